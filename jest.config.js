/** Jest: unit, node (node-red-node-test-helper), integration and browser tests.
 * TypeScript is transpiled per file (isolatedModules); `npm run typecheck` does the full check. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  testTimeout: 60000,
  maxWorkers: process.env.CI ? 2 : '50%',
  // integration tests spawn processes and bind ports; keep their leftovers from leaking between files
  forceExit: false,
  verbose: false,
  // the fault suite's table (tests/faults/, tests/helpers/faults.ts) is printed at the end of every run
  reporters: ['default', '<rootDir>/tests/helpers/fault-reporter.js'],
};
