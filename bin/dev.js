#!/usr/bin/env -S node --import tsx
import { launch } from '../src/cli/launch.ts';
await launch(import.meta.url, true);
