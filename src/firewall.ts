import { ArnFormat, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { createLogsKey } from './private/removal';
import { ensureInteger } from './private/validation';

/**
 * What the firewall does with a request that a rule matches.
 */
export enum FirewallMode {
  /** Block it. */
  BLOCK = 'BLOCK',
  /**
   * Let it through and count it: the rules' matches show in the logs and metrics, and nothing is blocked.
   * For a site's first week, to see what the rules would block before they do.
   */
  COUNT = 'COUNT',
}

/**
 * What a `WordPressFirewall` protects, which decides where its web ACL lives.
 */
export enum FirewallTarget {
  /** A CloudFront distribution: the web ACL (scope CLOUDFRONT) lives in us-east-1, whatever the site's region. */
  CLOUDFRONT = 'CLOUDFRONT',
  /** An Application Load Balancer: the web ACL (scope REGIONAL) lives in the load balancer's region. */
  LOAD_BALANCER = 'LOAD_BALANCER',
}

/**
 * Properties of a `WordPressFirewall`.
 */
export interface WordPressFirewallProps {
  /**
   * What the firewall protects: a distribution (`WordPressEdge.cloudFront()`) or a load balancer
   * (`WordPressEdge.loadBalancer()`).
   *
   * @default FirewallTarget.CLOUDFRONT
   */
  readonly target?: FirewallTarget;

  /**
   * Whether matching requests are blocked or only counted.
   *
   * @default FirewallMode.BLOCK
   */
  readonly mode?: FirewallMode;

  /**
   * How many requests one IP address may make to `wp-login.php` and `xmlrpc.php` in five minutes, the
   * most attacked URLs of a WordPress site. AWS WAF accepts 10 or more.
   *
   * @default 100
   */
  readonly loginRequestsPerFiveMinutes?: number;

  /**
   * How long the firewall's logs are kept.
   *
   * @default logs.RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * The customer managed key that encrypts the firewall's logs. CloudWatch Logs must be allowed to use it
   * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
   *
   * @default - a key of the firewall's own, which rotates yearly
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * What happens to the log group when it leaves the stack.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * AWS managed rule groups for a WordPress site, in the order WAF evaluates them. Each is one WCU-priced rule
 * of the web ACL. The core rule set would block two things a WordPress editor does all day: uploads (bodies
 * over 8 KB) and posts with HTML in them (the block editor saves HTML through the REST API), so those two of
 * its rules only count; WordPress checks capabilities and nonces on both.
 */
const MANAGED_RULE_GROUPS: ReadonlyArray<{ name: string; countOnly?: string[] }> = [
  { name: 'AWSManagedRulesAmazonIpReputationList' },
  { name: 'AWSManagedRulesCommonRuleSet', countOnly: ['SizeRestrictions_BODY', 'CrossSiteScripting_BODY'] },
  { name: 'AWSManagedRulesKnownBadInputsRuleSet' },
  { name: 'AWSManagedRulesSQLiRuleSet' },
  { name: 'AWSManagedRulesPHPRuleSet' },
  { name: 'AWSManagedRulesWordPressRuleSet' },
];

/**
 * An AWS WAF web ACL for a WordPress site: AWS's managed rule groups for IP reputation, common exploits,
 * known bad inputs, SQL injection, PHP and WordPress, and a rate limit per IP address on the login and
 * XML-RPC endpoints. It logs to CloudWatch Logs.
 *
 * A web ACL for CloudFront lives in us-east-1, whatever the region of the site: make this construct in a
 * stack in us-east-1 and pass it to `WordPressEdge.cloudFront({ firewall })`, with `crossRegionReferences`
 * on the site's stack. A site in us-east-1 makes its own. A site behind its load balancer alone makes a
 * regional one (`target: FirewallTarget.LOAD_BALANCER`) unless told not to.
 *
 * @example
 * const app = new App();
 * const edge = new Stack(app, 'BlogEdge', { env: { account: '111111111111', region: 'us-east-1' } });
 * const firewall = new WordPressFirewall(edge, 'Firewall');
 * const site = new Stack(app, 'Blog', { env: { account: '111111111111', region: 'eu-west-1' }, crossRegionReferences: true });
 * new ScalableWordPress(site, 'Site', { edge: WordPressEdge.cloudFront({ firewall }) });
 */
export class WordPressFirewall extends Construct {
  /** What the firewall protects. */
  public readonly target: FirewallTarget;
  /** The web ACL, of scope CLOUDFRONT or REGIONAL (see `target`). */
  public readonly webAcl: wafv2.CfnWebACL;
  /** The web ACL's ARN, which a CloudFront distribution takes as its `webAclId`. */
  public readonly webAclArn: string;
  /** Where the firewall logs every request it counts or blocks. */
  public readonly logGroup: logs.ILogGroup;

  constructor(scope: Construct, id: string, props: WordPressFirewallProps = {}) {
    super(scope, id);
    this.target = props.target ?? FirewallTarget.CLOUDFRONT;
    const region = Stack.of(this).region;
    if (this.target === FirewallTarget.CLOUDFRONT && (Token.isUnresolved(region) || region !== 'us-east-1')) {
      throw new Error(
        `WordPressFirewall is in a stack whose region is ${Token.isUnresolved(region) ? 'not set' : region}, but a web ACL for CloudFront must be ` +
        'in us-east-1. Make it in a stack with env: { region: \'us-east-1\' } and pass it to the site\'s stack, which needs crossRegionReferences: true. ' +
        'For a site behind its load balancer alone, set target: FirewallTarget.LOAD_BALANCER.',
      );
    }
    const limit = props.loginRequestsPerFiveMinutes ?? 100;
    ensureInteger('WordPressFirewall loginRequestsPerFiveMinutes', limit, 10, 2_000_000_000, 'AWS WAF counts 10 requests or more; use e.g. 100.');
    const count = props.mode === FirewallMode.COUNT;
    const visibility = (rule: string) => ({ cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName: rule });

    const rules: wafv2.CfnWebACL.RuleProperty[] = MANAGED_RULE_GROUPS.map((group, priority) => ({
      name: group.name,
      priority,
      overrideAction: count ? { count: {} } : { none: {} },
      statement: {
        managedRuleGroupStatement: {
          vendorName: 'AWS',
          name: group.name,
          ruleActionOverrides: group.countOnly?.map((rule) => ({ name: rule, actionToUse: { count: {} } })),
        },
      },
      visibilityConfig: visibility(group.name),
    }));
    rules.push({
      name: 'LoginRateLimit',
      priority: rules.length,
      action: count ? { count: {} } : { block: {} },
      statement: {
        rateBasedStatement: {
          limit,
          evaluationWindowSec: 300,
          aggregateKeyType: 'IP',
          scopeDownStatement: {
            orStatement: {
              statements: ['/wp-login.php', '/xmlrpc.php'].map((path) => ({
                byteMatchStatement: {
                  fieldToMatch: { uriPath: {} },
                  positionalConstraint: 'EXACTLY',
                  searchString: path,
                  textTransformations: [{ priority: 0, type: 'LOWERCASE' }],
                },
              })),
            },
          },
        },
      },
      visibilityConfig: visibility('LoginRateLimit'),
    });

    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: this.target === FirewallTarget.CLOUDFRONT ? 'CLOUDFRONT' : 'REGIONAL',
      defaultAction: { allow: {} },
      description: `WordPress: AWS managed rules and a login rate limit${count ? ', counting only' : ''}`,
      rules,
      visibilityConfig: visibility('WordPress'),
    });
    this.webAclArn = this.webAcl.attrArn;

    // WAF writes only to log groups whose names start with aws-waf-logs-.
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `aws-waf-logs-${Stack.of(this).stackName}-${id}`.slice(0, 512),
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      encryptionKey: props.encryptionKey ?? createLogsKey(this, 'LogsKey', `Encrypts the logs of ${this.node.path}`, props.removalPolicy),
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    new wafv2.CfnLoggingConfiguration(this, 'Logging', {
      resourceArn: this.webAcl.attrArn,
      logDestinationConfigs: [Stack.of(this).formatArn({
        service: 'logs',
        resource: 'log-group',
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        resourceName: this.logGroup.logGroupName,
      })],
      // Passwords and session cookies never reach the logs.
      redactedFields: [{ singleHeader: { Name: 'cookie' } }, { singleHeader: { Name: 'authorization' } }],
    });
  }
}
