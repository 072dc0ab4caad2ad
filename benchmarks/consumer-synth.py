#!/usr/bin/env python3
"""How long a user's inner loop takes: synthesizing the example site in each language.

Times each command as a whole process, RUNS times after one warm-up, and writes the median, minimum and
maximum wall time to benchmarks/consumer-synth.json and a table to benchmarks/CONSUMER-SYNTH.md.
It also records the peak memory of each run: the highest summed resident memory (VmRSS) of the command and
all its descendants (python and the node jsii kernel it starts; npx and node; mvn and its JVM), sampled
from /proc every 20 ms, so Linux only. Shared pages count once per process, so the sum overstates a little.
Run `npx projen bench:consumers` (it builds the packages first). Not part of the tests: figures depend on
the machine, and a test must not pass or fail on timing.

Options: `--languages typescript,python` runs only those (default: all three); `--json PATH` writes the
results to PATH instead of the committed benchmarks/consumer-synth.json and CONSUMER-SYNTH.md, for another
benchmark to reuse.

- TypeScript: ts-node runs examples/site.ts, as `cdk synth` does for a TypeScript app.
- Python: `python app.py` in a virtualenv with the built wheel, as `cdk synth` does for a Python app.
- Java: `mvn -o -q test` of the Java consumer: compile, start the JVM and jsii, synthesize, assert.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = int(os.environ.get('RUNS', '5'))
LANGUAGES = ('typescript', 'python', 'java')
ENV = dict(os.environ, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION='20', CDK_DISABLE_CLI_TELEMETRY='true')


def tree_rss_kib(root):
    """Summed VmRSS of root and its descendants, in KiB.

    Scans all of /proc for parent links, because /proc/<pid>/task/<tid>/children needs a kernel option
    (CONFIG_PROC_CHILDREN) that not every kernel has. Parent links come from the short /proc/<pid>/stat,
    and only the tree's own /proc/<pid>/status is read, to keep each sample cheap next to what it measures."""
    children = {}
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open(f'/proc/{pid}/stat') as f:
                # The command name in brackets may hold spaces; the parent pid is the second field after it.
                ppid = int(f.read().rpartition(')')[2].split()[1])
        except (OSError, IndexError, ValueError):  # the process ended between listing and reading
            continue
        children.setdefault(ppid, []).append(int(pid))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, ()))
        try:
            with open(f'/proc/{pid}/status') as f:
                # Zombies have no VmRSS line.
                total += next((int(line.split()[1]) for line in f if line.startswith('VmRSS:')), 0)
        except OSError:
            continue
    return total


def run(command, cwd, env):
    """Wall time in seconds and peak memory of the process tree in MiB of one run of command."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak, done = [0], threading.Event()

    def sample():
        # Until the command is reaped: its pid stays valid while it is a zombie, so no other process can take it.
        while not done.wait(0.02):
            peak[0] = max(peak[0], tree_rss_kib(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    process.wait()
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command)
    return elapsed, peak[0] / 1024


def measure(name, command, cwd, env, shown=None):
    run(command, cwd, env)  # warm-up: caches, JIT, compiled TypeScript
    times, peaks = zip(*[run(command, cwd, env) for _ in range(RUNS)])
    print(f'{name}: median {statistics.median(times):.2f} s, {statistics.median(peaks):.0f} MiB over {RUNS} runs', file=sys.stderr)
    return {'command': shown or ' '.join(command), 'runs': RUNS, 'median_s': round(statistics.median(times), 2),
            'min_s': round(min(times), 2), 'max_s': round(max(times), 2),
            'peak_rss_mib': round(statistics.median(peaks)), 'peak_rss_max_mib': round(max(peaks))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--languages', default=','.join(LANGUAGES),
                        help='comma-separated languages to run (default: %(default)s)')
    parser.add_argument('--json', metavar='PATH',
                        help='write the results to PATH instead of benchmarks/consumer-synth.json and CONSUMER-SYNTH.md')
    args = parser.parse_args(argv)
    languages = [language for language in args.languages.split(',') if language]
    unknown = set(languages) - set(LANGUAGES)
    if unknown:
        parser.error(f"unknown language(s): {', '.join(sorted(unknown))}; choose from {', '.join(LANGUAGES)}")

    out = tempfile.mkdtemp()
    results = {}
    if 'typescript' in languages:
        results['typescript'] = measure('typescript', ['npx', 'ts-node', '--project', 'examples/tsconfig.json', 'examples/site.ts'],
                                        ROOT, dict(ENV, CDK_OUTDIR=os.path.join(out, 'ts')))
    if 'python' in languages:
        measure_python(results, out)
    if 'java' in languages:
        measure_java(results)

    report = {
        'what': 'wall time and peak memory of synthesizing the example site (Aurora with 2 readers, EFS, a domain), per language',
        'machine': f'{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}',
        'date': time.strftime('%Y-%m-%d'),
        'results': results,
    }
    if args.json:
        write_json(report, args.json)
    else:
        write_json(report, os.path.join(ROOT, 'benchmarks', 'consumer-synth.json'))
        write_markdown(report)


def measure_python(results, out):
    venv = os.path.join(out, 'venv')
    subprocess.run([sys.executable, '-m', 'venv', venv], check=True)
    wheel = next(f for f in os.listdir(os.path.join(ROOT, 'dist', 'python')) if f.endswith('.whl'))
    subprocess.run([os.path.join(venv, 'bin', 'pip'), 'install', '-q', '--disable-pip-version-check',
                    os.path.join(ROOT, 'dist', 'python', wheel), 'aws-cdk-lib==2.257.0', 'constructs==10.5.1'], check=True)
    results['python'] = measure('python', [os.path.join(venv, 'bin', 'python'), 'app.py'],
                                os.path.join(ROOT, 'test', 'consumers', 'python'), dict(ENV, CDK_OUTDIR=os.path.join(out, 'py')),
                                shown='python app.py (test/consumers/python, in a virtualenv with the wheel)')


def measure_java(results):
    java = os.path.join(ROOT, 'test', 'consumers', 'java')
    version = json.load(open(os.path.join(ROOT, 'package.json')))['version']
    results['java'] = measure('java', ['mvn', '-o', '-q', '-B', f'-Ddist.repo={ROOT}/dist/java', f'-Dlibrary.version={version}', 'test'], java, ENV,
                              shown='mvn -o -q test (test/consumers/java)')
    subprocess.run(['rm', '-rf', os.path.join(java, 'target')], check=True)


def write_json(report, path):
    with open(path, 'w') as f:
        json.dump(report, f, indent=2)
        f.write('\n')


def write_markdown(report):
    lines = [
        '# Synthesis time and memory per language',
        '',
        f"{report['what']}. Measured by `benchmarks/consumer-synth.py` on {report['date']}, {report['machine']}:",
        f'each command as a whole process, {RUNS} runs after a warm-up. Peak memory is the highest summed resident',
        'memory of the command and all its descendants (e.g. the node jsii kernel), median over the runs (max in brackets).',
        '',
        '| language | what runs | median | min | max | peak memory |',
        '| --- | --- | --- | --- | --- | --- |',
    ]
    for language, r in report['results'].items():
        lines.append(f"| {language} | `{r['command'].replace(ROOT + '/', '')}` | {r['median_s']} s | {r['min_s']} s | {r['max_s']} s"
                     f" | {r['peak_rss_mib']} MiB ({r['peak_rss_max_mib']}) |")
    with open(os.path.join(ROOT, 'benchmarks', 'CONSUMER-SYNTH.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')


if __name__ == '__main__':
    main()
