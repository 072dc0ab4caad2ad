import { App, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks } from 'cdk-nag';
import { AuroraReaderType, ScalableWordPress, ScalableWordPressProps, WordPressDatabase, WordPressEdge, WordPressMedia } from '../src';
import { zone } from './util';

// cdk-nag 3 as a Validations plugin does not run on aws-cdk-lib 2.257 (it needs a newer core), so the
// checks are run directly on the synthesized tree, and a known-bad resource proves they are alive.
// `compliancePacks` adds HIPAA Security and NIST 800-53 R5, whose false positives the construct acknowledges too.
interface FindingsOptions { ignoreAcknowledgements?: boolean; stackProps?: StackProps; compliancePacks?: boolean }
function findings(build: (stack: Stack) => void, options: FindingsOptions = {}) {
  const app = new App();
  const stack = new Stack(app, 'Test', options.stackProps);
  build(stack);
  app.synth();
  const packs = [new AwsSolutionsChecks(), ...options.compliancePacks ? [new HIPAASecurityChecks(), new NIST80053R5Checks()] : []];
  return packs.flatMap((checks) => {
    if (options.ignoreAcknowledgements) {
      (checks as any).isAcknowledged = () => false;
    }
    return checks.validateScope(app).violations
      .map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
  });
}

/** The reasons given for acknowledged rules anywhere in the tree. */
function acknowledgements(stack: Stack): Array<[string, string]> {
  return stack.node.findAll().flatMap((c) => c.node.metadata
    .filter((m) => m.type === 'aws:cdk:acknowledged-rules')
    .flatMap((m) => Object.entries<string>(m.data)));
}

// Each case synthesizes a whole site and runs every rule on it: seconds each on a busy machine.
jest.setTimeout(60_000);

describe('cdk-nag AwsSolutions', () => {
  const usEast1 = { env: { region: 'us-east-1' } };
  // Every row has its stack props: a test function with one more parameter than its row gets jest's `done` callback instead.
  const anywhere: StackProps = {};
  const layouts: Array<[string, (stack: Stack) => ScalableWordPressProps, StackProps]> = [
    ['RDS Multi-AZ + EFS, no domain', () => ({}), anywhere],
    ['Aurora + EFS + domain', (s) => ({ database: WordPressDatabase.auroraReplicas({ readers: 2 }), domainName: 'blog.example.com', domainZone: zone(s) }), anywhere],
    ['RDS Multi-AZ + EBS', () => ({ media: WordPressMedia.ebs() }), anywhere],
    ['Aurora Serverless v2 + EBS', () => ({ database: WordPressDatabase.auroraReplicas({ readerType: AuroraReaderType.SERVERLESS_V2 }), media: WordPressMedia.ebs() }), anywhere],
    ['existing VPC', (s) => ({ vpc: new ec2.Vpc(s, 'Vpc', { maxAzs: 2, natGateways: 1, flowLogs: { All: {} } }) }), anywhere],
    ['CloudFront + WAF, no domain', () => ({ edge: WordPressEdge.cloudFront() }), usEast1],
    ['CloudFront + WAF + domain + Aurora', (s) => ({
      edge: WordPressEdge.cloudFront(), database: WordPressDatabase.auroraReplicas(), domainName: 'blog.example.com', domainZone: zone(s),
    }), usEast1],
  ];

  test.each(layouts)('%s has no unacknowledged finding', (_, props, stackProps) => {
    expect(findings((stack) => new ScalableWordPress(stack, 'Site', props(stack)), { stackProps })).toEqual([]);
  });

  test.each(layouts)('%s acknowledges only rules that would fire', (_, props, stackProps) => {
    let acknowledged: string[] = [];
    const raw = findings((stack) => {
      new ScalableWordPress(stack, 'Site', props(stack));
      acknowledged = acknowledgements(stack).map(([id]) => id);
    }, { ignoreAcknowledgements: true, stackProps, compliancePacks: true });
    const fired = new Set(raw.map((f) => f.split(' at ')[0]));
    for (const id of acknowledged) {
      expect([id, fired.has(id)]).toStrictEqual([id, true]);
    }
  });

  test('is alive: a known-bad resource is flagged', () => {
    const bad = findings((stack) => {
      new s3.Bucket(stack, 'PlainBucket');
      new ec2.SecurityGroup(stack, 'OpenSsh', { vpc: new ec2.Vpc(stack, 'Vpc') })
        .addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(22));
    });
    expect(bad).toEqual(expect.arrayContaining([
      expect.stringMatching(/^AwsSolutions-S1 at Test\/PlainBucket/),
      expect.stringMatching(/^AwsSolutions-S10 at Test\/PlainBucket/),
      expect.stringMatching(/^AwsSolutions-VPC7 at Test\/Vpc/),
    ]));
  });

  test('every acknowledgement gives a reason', () => {
    const stack = new Stack(new App(), 'Test');
    new ScalableWordPress(stack, 'Site', { database: WordPressDatabase.auroraReplicas(), media: WordPressMedia.ebs() });
    const acks = acknowledgements(stack);
    expect(acks.length).toBeGreaterThan(5);
    for (const [id, reason] of acks) {
      expect([id, reason.length > 40]).toEqual([id, true]);
    }
  });
});
