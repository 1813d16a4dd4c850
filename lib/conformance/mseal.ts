import type { Case } from './types.js';

export const cases: readonly Case[] = [];
