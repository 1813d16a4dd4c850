{
  'target_defaults': {
    'default_configuration': 'Release',
    'configurations': {
      'Debug': {
        'defines': ['DEBUG', '_DEBUG'],
        'cflags_cc': ['-O0', '-g3'],
      },
      'Release': {
        'defines': ['NDEBUG'],
        'cflags_cc': ['-O2', '-D_FORTIFY_SOURCE=2'],
      },
    },
  },
}
