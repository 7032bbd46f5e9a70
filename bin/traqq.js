#!/usr/bin/env node
// The `traqq` command: a shim over the compiled CLI in dist/.
let cli;
try {
  cli = await import("../dist/ts/cli.js");
} catch (e) {
  if (e?.code !== "ERR_MODULE_NOT_FOUND") throw e;
  process.stderr.write(
    "traqq: the build is missing (" + e.message + "); run `npm run build`\n",
  );
  process.exit(2);
}
process.exitCode = await cli.run(process.argv);
