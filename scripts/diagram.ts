import * as fs from 'fs';
import * as path from 'path';
import { App, CfnResource, Stack } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { Construct } from 'constructs';
import { ScalableWordPress, WordPressDatabase, WordPressMedia } from '../src';

/**
 * The README's architecture diagram (Mermaid), read from a synthesized site rather than drawn: a node per tier of
 * the construct (its children, grouped below), and edges found in the template: who may connect to whom (security
 * group rules, with their ports), what the DNS names point to, what the firewall filters, what the instance role may use, what the backup
 * plan backs up, what the alarms watch. `npx projen diagram` writes it into README.md; a test fails when the
 * README's copy differs.
 */
const TIERS: Record<string, string> = {
  Vpc: 'Network', FlowLogRole: 'Network', FlowLogs: 'Logs', LogsKey: 'Logs', Logs: 'Logs',
  WebSecurityGroup: 'Instances', InstanceRole: 'Instances', LaunchTemplate: 'Instances', AutoScalingGroup: 'Instances',
  LoadBalancer: 'LoadBalancer', TargetGroup: 'LoadBalancer', AccessLogs: 'LoadBalancer',
  SecretsKey: 'Secrets', Secrets: 'Secrets', Database: 'Database', Media: 'Media', DNS: 'DNS', Distribution: 'Edge',
  Firewall: 'Firewall', FirewallAssociation: 'Firewall', Backup: 'Backup', Monitoring: 'Monitoring', EmailIdentity: 'Email',
  ObjectCache: 'ObjectCache',
};
const LABELS: Record<string, string> = {
  Internet: 'Visitors', DNS: 'Route 53 + ACM', LoadBalancer: 'Application Load Balancer', Instances: 'Auto Scaling group<br/>nginx + PHP-FPM',
  Database: 'Database', Media: 'Media', Secrets: 'Secrets Manager', Backup: 'AWS Backup', Monitoring: 'CloudWatch alarms<br/>+ dashboard',
  Logs: 'CloudWatch Logs', Email: 'Amazon SES', Edge: 'CloudFront', Firewall: 'AWS WAF', ObjectCache: 'Object cache<br/>ElastiCache Valkey',
};

export function architectureDiagram(site: Construct, template: { Resources: Record<string, any> }): string {
  const stack = Stack.of(site);
  const tierOf = new Map<string, string>(); // logical ID -> tier
  for (const child of site.node.children) {
    const tier = TIERS[child.node.id] ?? TIERS[child.node.id.replace(/\d+$/, '')] ?? (child.node.id.startsWith('Email') ? 'Email' : child.node.id);
    for (const c of child.node.findAll()) {
      if (CfnResource.isCfnResource(c)) {
        tierOf.set(stack.resolve((c as CfnResource).logicalId), tier);
      }
    }
  }
  const resources = template.Resources;
  const edges = new Set<string>();
  const add = (from: string, to: string, label: string) => {
    if (from && to && from !== to && from !== 'Network' && to !== 'Network') {
      edges.add(`${from} -->|${label}| ${to}`);
    }
  };
  const refs = (node: unknown): string[] => (JSON.stringify(node) ?? "").match(/"(?:Ref|Fn::GetAtt)":\s*(?:\["|")([A-Za-z0-9]+)/g)
    ?.map((m) => m.replace(/.*"([A-Za-z0-9]+)$/, '$1')) ?? [];
  const tiersIn = (node: unknown) => [...new Set(refs(node).map((id) => tierOf.get(id)).filter((t): t is string => !!t))];
  for (const [id, r] of Object.entries(resources)) {
    const tier = tierOf.get(id);
    const p = r.Properties ?? {};
    if (r.Type === 'AWS::EC2::SecurityGroupIngress' && p.SourceSecurityGroupId) {
      add(tiersIn(p.SourceSecurityGroupId)[0], tiersIn(p.GroupId)[0], `TCP ${p.FromPort}`);
    } else if (r.Type === 'AWS::EC2::SecurityGroup') {
      for (const rule of p.SecurityGroupIngress ?? []) {
        if (rule.CidrIp === '0.0.0.0/0') {
          add('Internet', tier!, `TCP ${rule.FromPort}`);
        }
      }
    } else if (r.Type === 'AWS::Route53::RecordSet' && p.AliasTarget) {
      tiersIn(p.AliasTarget).forEach((t) => add(tier!, t, 'alias'));
    } else if (r.Type === 'AWS::WAFv2::WebACLAssociation') {
      add('Firewall', tiersIn(p.ResourceArn)[0], 'filters');
    } else if (r.Type === 'AWS::CloudFront::Distribution') {
      tiersIn(p.DistributionConfig.WebACLId).forEach((t) => add(t, 'Edge', 'filters'));
    } else if (r.Type === 'AWS::IAM::ManagedPolicy' && tier === 'Instances') {
      tiersIn(p.PolicyDocument).forEach((t) => add('Instances', t, 'role'));
    } else if (r.Type === 'AWS::Backup::BackupSelection') {
      tiersIn(p.BackupSelection.Resources).forEach((t) => add('Backup', t, 'backs up'));
    } else if (r.Type === 'AWS::CloudWatch::Alarm') {
      tiersIn(p.Dimensions ?? p.Metrics).forEach((t) => add('Monitoring', t, 'watches'));
    }
  }
  const nodes = new Set(['Internet', ...tierOf.values()].filter((t) => t !== 'Network'));
  return [
    'flowchart LR',
    ...[...nodes].sort().map((n) => `  ${n}["${LABELS[n] ?? n}"]`),
    ...[...edges].sort().map((e) => `  ${e}`),
  ].join('\n');
}

/** The example site's diagram (examples/site.ts: Aurora with two readers, EFS, a domain). */
export function exampleDiagram(): string {
  const app = new App();
  const stack = new Stack(app, 'ScalableWordPressExample');
  const zone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0000000EXAMPLE', zoneName: 'example.com' });
  const site = new ScalableWordPress(stack, 'Blog', {
    database: WordPressDatabase.auroraReplicas({ readers: 2 }),
    media: WordPressMedia.efs(),
    domainName: 'blog.example.com',
    domainZone: zone,
  });
  return architectureDiagram(site, app.synth().getStackByName(stack.stackName).template);
}

export const README = path.join(__dirname, '..', 'README.md');
const START = '<!-- architecture diagram: written by `npx projen diagram` from the synthesized example site; do not edit -->';
const END = '<!-- end of architecture diagram -->';

/** README.md with its diagram block replaced by DIAGRAM. */
export function withDiagram(readme: string, diagram: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) {
    throw new Error(`README.md has no diagram block: add the lines\n${START}\n${END}`);
  }
  return readme.slice(0, start) + `${START}\n\n\`\`\`mermaid\n${diagram}\n\`\`\`\n\n` + readme.slice(end);
}

if (require.main === module) {
  fs.writeFileSync(README, withDiagram(fs.readFileSync(README, 'utf8'), exampleDiagram()));
}
