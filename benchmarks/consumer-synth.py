#!/usr/bin/env python3
"""How long a user's inner loop takes: synthesizing the example site in each language.

Times each command as a whole process, RUNS times after one warm-up, and writes the median, minimum and
maximum wall time to benchmarks/consumer-synth.json and a table to benchmarks/CONSUMER-SYNTH.md.
Run `npx projen bench:consumers` (it builds the packages first). Not part of the tests: figures depend on
the machine, and a test must not pass or fail on timing.

- TypeScript: ts-node runs examples/site.ts, as `cdk synth` does for a TypeScript app.
- Python: `python app.py` in a virtualenv with the built wheel, as `cdk synth` does for a Python app.
- Java: `mvn -o -q test` of the Java consumer: compile, start the JVM and jsii, synthesize, assert.
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = int(os.environ.get('RUNS', '5'))
ENV = dict(os.environ, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION='20', CDK_DISABLE_CLI_TELEMETRY='true')


def run(command, cwd, env):
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def measure(name, command, cwd, env, shown=None):
    run(command, cwd, env)  # warm-up: caches, JIT, compiled TypeScript
    times = [run(command, cwd, env) for _ in range(RUNS)]
    print(f'{name}: median {statistics.median(times):.2f} s over {RUNS} runs', file=sys.stderr)
    return {'command': shown or ' '.join(command), 'runs': RUNS, 'median_s': round(statistics.median(times), 2),
            'min_s': round(min(times), 2), 'max_s': round(max(times), 2)}


def main():
    out = tempfile.mkdtemp()
    results = {}
    results['typescript'] = measure('typescript', ['npx', 'ts-node', '--project', 'examples/tsconfig.json', 'examples/site.ts'],
                                    ROOT, dict(ENV, CDK_OUTDIR=os.path.join(out, 'ts')))

    venv = os.path.join(out, 'venv')
    subprocess.run([sys.executable, '-m', 'venv', venv], check=True)
    wheel = next(f for f in os.listdir(os.path.join(ROOT, 'dist', 'python')) if f.endswith('.whl'))
    subprocess.run([os.path.join(venv, 'bin', 'pip'), 'install', '-q', '--disable-pip-version-check',
                    os.path.join(ROOT, 'dist', 'python', wheel), 'aws-cdk-lib==2.257.0', 'constructs==10.5.1'], check=True)
    results['python'] = measure('python', [os.path.join(venv, 'bin', 'python'), 'app.py'],
                                os.path.join(ROOT, 'test', 'consumers', 'python'), dict(ENV, CDK_OUTDIR=os.path.join(out, 'py')),
                                shown='python app.py (test/consumers/python, in a virtualenv with the wheel)')

    java = os.path.join(ROOT, 'test', 'consumers', 'java')
    version = json.load(open(os.path.join(ROOT, 'package.json')))['version']
    results['java'] = measure('java', ['mvn', '-o', '-q', '-B', f'-Ddist.repo={ROOT}/dist/java', f'-Dlibrary.version={version}', 'test'], java, ENV,
                              shown='mvn -o -q test (test/consumers/java)')
    subprocess.run(['rm', '-rf', os.path.join(java, 'target')], check=True)

    report = {
        'what': 'wall time of synthesizing the example site (Aurora with 2 readers, EFS, a domain), per language',
        'machine': f'{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}',
        'date': time.strftime('%Y-%m-%d'),
        'results': results,
    }
    with open(os.path.join(ROOT, 'benchmarks', 'consumer-synth.json'), 'w') as f:
        json.dump(report, f, indent=2)
        f.write('\n')
    lines = [
        '# Synthesis time per language',
        '',
        f"{report['what']}. Measured by `benchmarks/consumer-synth.py` on {report['date']}, {report['machine']}:",
        f'each command as a whole process, {RUNS} runs after a warm-up.',
        '',
        '| language | what runs | median | min | max |',
        '| --- | --- | --- | --- | --- |',
    ]
    for language, r in results.items():
        lines.append(f"| {language} | `{r['command'].replace(ROOT + '/', '')}` | {r['median_s']} s | {r['min_s']} s | {r['max_s']} s |")
    with open(os.path.join(ROOT, 'benchmarks', 'CONSUMER-SYNTH.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')


if __name__ == '__main__':
    main()
