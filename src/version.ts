// The package version, as a constant so that no platform API is needed to know it (browsers, Deno);
// test/platform.test.ts keeps it equal to package.json's.
export const VERSION = '0.1.0';
