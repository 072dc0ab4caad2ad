// The sites the benchmark boots. Their user data is taken from these templates, unchanged.
// - BenchSite: the construct's defaults, with Aurora and one reader so that read offload can be measured;
// - BenchEdgeSite: the same site behind CloudFront (in us-east-1, where the edge's certificate and web ACL live),
//   whose distribution the lab's edge stand-in is generated from.
import { App, Stack } from 'aws-cdk-lib';
import { ScalableWordPress, WordPressDatabase, WordPressEdge, WordPressObjectCache } from '../src';

const app = new App({ outdir: process.argv[2] ?? 'lab/work/cdk.out' });

// With the object cache (off by default), unless BENCH_OBJECT_CACHE=none: the A/B of benchmarks/NOTES.md.
const objectCache = process.env.BENCH_OBJECT_CACHE === 'none' ? WordPressObjectCache.none() : WordPressObjectCache.serverless();

new ScalableWordPress(new Stack(app, 'BenchSite'), 'Site', {
  database: WordPressDatabase.auroraReplicas({ readers: 1 }),
  objectCache,
});

new ScalableWordPress(new Stack(app, 'BenchEdgeSite', { env: { region: 'us-east-1' } }), 'Site', {
  database: WordPressDatabase.auroraReplicas({ readers: 1 }),
  edge: WordPressEdge.cloudFront(),
  objectCache,
});

app.synth();
