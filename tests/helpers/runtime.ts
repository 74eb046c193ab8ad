/** The runtime harness lives in harness/ (shared by the tests and the benchmarks; bench/ never imports tests/). */
export * from '../../harness/runtime';
