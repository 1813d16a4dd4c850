{
  'variables': {
    # CI turns these on: -Werror, and the variant without external buffers
    # (as in Electron's V8 sandbox), and the sanitizer build.
    'werror%': 0,
    'no_external_buffers%': 0,
    'sanitize%': 0,
  },
  'includes': ['common.gypi'],
  'targets': [
    {
      'target_name': 'memseal',
      'conditions': [
        ['OS=="linux"', {
          'sources': [
            'native/addon.cc',
            'native/errors.cc',
            'native/constants.cc',
            'native/memfd.cc',
            'native/seals.cc',
            'native/fileio.cc',
            'native/mman.cc',
            'native/region.cc',
            'native/lifetime.cc',
            'native/secretmem.cc',
            'native/ranges.cc',
            'native/copy.cc',
            'native/procs.cc',
            'native/splice.cc',
            'native/fdpass.cc',
            'native/xattr.cc',
          ],
          'dependencies': [
            "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except",
          ],
          'defines': [
            'NAPI_VERSION=9',
            'NODE_ADDON_API_DISABLE_DEPRECATED',
            # A promise settled while a worker is being torn down (a receive
            # or an async clone still in flight) cannot reach JS: without
            # this, node-addon-api turns that into std::terminate.
            'NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS',
            '_GNU_SOURCE',
          ],
          'cflags_cc': [
            # Third-party headers are system headers: their warnings are not ours.
            '-isystem', '<(node_root_dir)/include/node',
            '-isystem', '<!(node -p "require(\'path\').dirname(require.resolve(\'node-addon-api\'))")',
            '-std=c++17',
            '-Wall', '-Wextra', '-Wpedantic', '-Wshadow', '-Wconversion',
            '-fvisibility=hidden',
            '-fstack-protector-strong',
          ],
          'conditions': [
            ['werror==1', { 'cflags_cc': ['-Werror'] }],
            ['no_external_buffers==1', {
              'defines': ['NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED'],
            }],
            ['sanitize==1', {
              'cflags_cc': ['-fsanitize=address,undefined', '-fno-omit-frame-pointer'],
              'ldflags': ['-fsanitize=address,undefined'],
            }],
          ],
        }, {
          'type': 'none',
        }],
      ],
    },
  ],
}
