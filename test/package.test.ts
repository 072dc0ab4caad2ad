import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');

/** The paths `npm pack` would put in the package, as npm decides from .npmignore. */
function packedFiles(): string[] {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] });
  return JSON.parse(out.toString())[0].files.map((f: { path: string }) => f.path);
}

describe('the npm package', () => {
  const files = packedFiles();

  test('holds the boot files the library reads at synth time', () => {
    for (const name of fs.readdirSync(path.join(ROOT, 'assets', 'boot'))) {
      expect(files).toContain(`assets/boot/${name}`);
    }
  });

  test('holds nothing users do not need: no tests, lab, benchmarks, scripts, examples or sources', () => {
    const tops = [...new Set(files.map((f) => f.split('/')[0]))].sort();
    for (const unwanted of ['benchmarks', 'scripts', 'lab', 'test', 'examples', 'src', 'rosetta', '.ci', 'test-reports']) {
      expect(tops).not.toContain(unwanted);
    }
  });
});
