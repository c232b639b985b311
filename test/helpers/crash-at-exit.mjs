// Preloaded (--import) into the CLI by test/cli/commands.test.ts: the supervised child crashes with SIGSEGV as it
// exits, after its command has finished, as Dawn now and then does tearing down an instance whose device was lost.
if (process.env.MLA_BENCH_CHILD === '1') process.on('exit', () => process.kill(process.pid, 'SIGSEGV'));
