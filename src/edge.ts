import { Annotations, Arn, ArnFormat, Aws, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as route53targets from 'aws-cdk-lib/aws-route53-targets';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { FirewallTarget, WordPressFirewall } from './firewall';
import { acknowledge } from './private/nag';
import { retainUnlessDestroyed } from './private/removal';
import { describeAzs, distinctAzs } from './private/validation';

/**
 * Options for `WordPressEdge.cloudFront()`.
 */
export interface CloudFrontEdgeOptions {
  /**
   * The AWS WAF web ACL in front of the distribution. A web ACL for CloudFront lives in us-east-1: a site in
   * another region passes one made in a us-east-1 stack (with `crossRegionReferences` on the site's stack).
   *
   * @default - a `WordPressFirewall` made in the site's stack, which must then be in us-east-1
   */
  readonly firewall?: WordPressFirewall;

  /**
   * Which edge locations serve the site, and so what it costs.
   *
   * @default cloudfront.PriceClass.PRICE_CLASS_ALL (every edge location: a site that serves the world)
   */
  readonly priceClass?: cloudfront.PriceClass;

  /**
   * How long the edge keeps static files (`/wp-content/*`, `/wp-includes/*`) when the origin does not say.
   * Their URLs carry the version in the query string, which is part of the cache key.
   *
   * @default Duration.days(7)
   */
  readonly staticFilesTtl?: Duration;
}

/**
 * Options for `WordPressEdge.loadBalancer()`.
 */
export interface LoadBalancerEdgeOptions {
  /**
   * The AWS WAF web ACL in front of the load balancer: a `WordPressFirewall` with
   * `target: FirewallTarget.LOAD_BALANCER`, in the site's region.
   *
   * @default - a regional `WordPressFirewall` made by the site, unless `firewallEnabled` is false
   */
  readonly firewall?: WordPressFirewall;

  /**
   * Whether AWS WAF protects the load balancer. A web ACL costs about USD 12 a month (the ACL and its seven
   * rules) and USD 0.60 per million requests; without it, login brute force, SQL injection and known
   * WordPress exploits reach the instances.
   *
   * @default true
   */
  readonly firewallEnabled?: boolean;
}

/**
 * What stands between visitors and the instances: an Application Load Balancer alone, or CloudFront with
 * AWS WAF in front of a load balancer that only CloudFront can reach.
 *
 * @example
 * const direct = WordPressEdge.loadBalancer();
 * const global = WordPressEdge.cloudFront({ priceClass: cloudfront.PriceClass.PRICE_CLASS_100 });
 */
export abstract class WordPressEdge {
  /**
   * An internet-facing Application Load Balancer in the public subnets, behind AWS WAF: HTTPS with a domain,
   * HTTP on the load balancer's name without one. No CDN. Works in any stack, including environment-agnostic ones.
   */
  public static loadBalancer(options: LoadBalancerEdgeOptions = {}): WordPressEdge {
    return new LoadBalancerEdge(options);
  }

  /**
   * A CloudFront distribution with AWS WAF, in front of an internal load balancer that only CloudFront reaches
   * (a VPC origin). HTTPS always: on the domain with one, on the distribution's `*.cloudfront.net` name without.
   * Anonymous pages and static files are cached at the edge, and purged when content changes.
   * Its certificate and web ACL live in us-east-1 (see `firewall`, and the site's `certificate`).
   */
  public static cloudFront(options: CloudFrontEdgeOptions = {}): WordPressEdge {
    return new CloudFrontEdge(options);
  }

  /**
   * Creates the edge under `site`.
   * @internal
   */
  public abstract _bind(site: Construct, context: EdgeContext): BoundEdge;
}

/**
 * What the site gives the edge.
 * @internal
 */
export interface EdgeContext {
  readonly vpc: ec2.IVpc;
  /** Whether the construct made the VPC, dual-stack. */
  readonly dualStack: boolean;
  /** Private subnets with egress in two or more AZs, for an internal load balancer. */
  readonly privateSubnets: ec2.SelectedSubnets;
  readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  readonly healthCheckPath: string;
  readonly domainName?: string;
  readonly domainZone?: route53.IHostedZone;
  readonly certificate?: acm.ICertificate;
  readonly accessLogBucket?: s3.IBucket;
  /** Whether the load balancer writes access logs (to `accessLogBucket`, or a bucket made here). */
  readonly accessLogs: boolean;
  /** The site's key for logs, which the firewalls the site makes use too. */
  readonly logsKey: kms.IKey;
  /** `DESTROY` turns off the load balancer's deletion protection, as it does the database's. */
  readonly removalPolicy?: RemovalPolicy;
  /** How long anonymous pages are cached; 0 turns caching of pages off. */
  readonly pageCacheSeconds: number;
  /** WordPress's COOKIEHASH: the suffix of its cookie names, which the edge's cache key names. */
  readonly cookieHash: string;
}

/**
 * The edge once created.
 * @internal
 */
export interface BoundEdge {
  readonly kind: 'load-balancer' | 'cloudfront';
  /** The site's address, which WordPress takes as its home and site URL. */
  readonly url: string;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly listener: elbv2.ApplicationListener;
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  readonly certificate?: acm.ICertificate;
  readonly distribution?: cloudfront.Distribution;
  readonly firewall?: WordPressFirewall;
  /** The Route 53 health check of the site's domain, when it has one. */
  readonly healthCheck?: route53.CfnHealthCheck;
}

class LoadBalancerEdge extends WordPressEdge {
  constructor(private readonly options: LoadBalancerEdgeOptions) {
    super();
    if (options.firewallEnabled === false && options.firewall) {
      throw new Error('WordPressEdge.loadBalancer() has firewallEnabled: false and a firewall: remove one of the two.');
    }
    requireFirewallTarget(options.firewall, FirewallTarget.LOAD_BALANCER, 'WordPressEdge.loadBalancer({ firewall })');
  }

  /** @internal */
  public _bind(site: Construct, context: EdgeContext): BoundEdge {
    const loadBalancer = createLoadBalancer(site, context, true, selectPublicSubnets(context.vpc));
    acknowledge(loadBalancer, 'AwsSolutions-EC23',
      'a public website: the load balancer accepts HTTP and HTTPS from anywhere, and nothing else');
    const firewall = this.options.firewallEnabled === false ? undefined : this.options.firewall ??
      new WordPressFirewall(site, 'Firewall', {
        target: FirewallTarget.LOAD_BALANCER, encryptionKey: context.logsKey, removalPolicy: retainUnlessDestroyed(context.removalPolicy),
      });
    if (firewall) {
      new wafv2.CfnWebACLAssociation(site, 'FirewallAssociation', { resourceArn: loadBalancer.loadBalancerArn, webAclArn: firewall.webAclArn });
    } else {
      Annotations.of(site).addWarningV2('cdk-scalable-wordpress:noFirewall',
        'WordPressEdge.loadBalancer({ firewallEnabled: false }): no AWS WAF in front of the site, so login brute force, SQL injection ' +
        'and known WordPress exploits reach the instances. Remove firewallEnabled: false unless another firewall protects the load balancer.');
    }
    const targetGroup = createTargetGroup(site, context);
    const { domainName, domainZone } = context;
    if (domainName && domainZone) {
      const dns = new Construct(site, 'DNS');
      const certificate = context.certificate ?? new acm.Certificate(dns, 'Certificate', {
        domainName,
        validation: acm.CertificateValidation.fromDns(domainZone),
      });
      const listener = loadBalancer.addListener('Https', {
        port: 443,
        certificates: [certificate],
        sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
        defaultTargetGroups: [targetGroup],
        open: true,
      });
      loadBalancer.addRedirect({ sourcePort: 80, targetPort: 443 });
      const healthCheck = createDns(dns, context, route53.RecordTarget.fromAlias(new route53targets.LoadBalancerTarget(loadBalancer)),
        context.dualStack);
      return { kind: 'load-balancer', url: `https://${domainName}`, loadBalancer, listener, targetGroup, certificate, healthCheck, firewall };
    }
    Annotations.of(site).addWarningV2('cdk-scalable-wordpress:noHttps',
      'No domainName: the site is served over plain HTTP on the load balancer\'s DNS name, and logins travel unencrypted. ' +
      'Set domainName and domainZone for HTTPS, or use edge: WordPressEdge.cloudFront(), which serves HTTPS on its own name.');
    const listener = loadBalancer.addListener('Http', { port: 80, defaultTargetGroups: [targetGroup], open: true });
    return { kind: 'load-balancer', url: `http://${loadBalancer.loadBalancerDnsName}`, loadBalancer, listener, targetGroup, firewall };
  }
}

/** A web ACL protects only what its scope allows: CloudFront's must be of scope CLOUDFRONT, a load balancer's REGIONAL. */
function requireFirewallTarget(firewall: WordPressFirewall | undefined, target: FirewallTarget, prop: string) {
  if (firewall && firewall.target !== target) {
    throw new Error(`${prop} is a firewall with target ${firewall.target}, but this edge needs one with target: FirewallTarget.${target}.`);
  }
}

/** Paths that are personal or change state: never cached, every header, cookie and query string forwarded. */
const DYNAMIC_PATHS = [
  '/wp-admin/*', '/wp-login.php', '/wp-cron.php', '/xmlrpc.php', '/wp-json/*', '/wp-comments-post.php',
  '/wp-signup.php', '/wp-activate.php', '/wp-trackback.php', '/wp-content/*.php', '/wp-includes/*.php',
];
/** Static files: cached long, with the query string (`?ver=`) in the key and no cookie. */
const STATIC_PATHS = ['/wp-content/*', '/wp-includes/*'];

/** The cookies that make a page personal, by the names WordPress gives them (`COOKIEHASH` is their suffix). */
function personalCookies(cookieHash: string): string[] {
  return ['wordpress_logged_in_', 'wordpress_sec_', 'wp-postpass_', 'comment_author_', 'comment_author_email_']
    .map((prefix) => prefix + cookieHash);
}

class CloudFrontEdge extends WordPressEdge {
  constructor(private readonly options: CloudFrontEdgeOptions) {
    super();
    requireFirewallTarget(options.firewall, FirewallTarget.CLOUDFRONT, 'WordPressEdge.cloudFront({ firewall })');
    const ttl = options.staticFilesTtl?.toSeconds({ integral: false });
    if (ttl !== undefined && !Token.isUnresolved(ttl) && !(Number.isInteger(ttl) && ttl >= 0 && ttl <= 31536000)) {
      throw new Error(`WordPressEdge.cloudFront({ staticFilesTtl }) is ${ttl} s, but it must be whole seconds up to a year. Use e.g. Duration.days(7).`);
    }
  }

  /** @internal */
  public _bind(site: Construct, context: EdgeContext): BoundEdge {
    const region = Stack.of(site).region;
    const inUsEast1 = !Token.isUnresolved(region) && region === 'us-east-1';
    const here = Token.isUnresolved(region) ? 'an environment-agnostic stack' : `a stack in ${region}`;
    const firewall = this.options.firewall ?? (inUsEast1 ? new WordPressFirewall(site, 'Firewall', {
      encryptionKey: context.logsKey, removalPolicy: retainUnlessDestroyed(context.removalPolicy),
    }) : undefined);
    if (!firewall) {
      throw new Error(
        `WordPressEdge.cloudFront() needs a web ACL in us-east-1, and the site is in ${here}. Either give the site's stack ` +
        'env: { region: \'us-east-1\' }, or make a WordPressFirewall in a us-east-1 stack and pass it as WordPressEdge.cloudFront({ firewall }), ' +
        'with crossRegionReferences: true on the site\'s stack.',
      );
    }
    const certificate = this.certificate(site, context, inUsEast1, here);

    // The load balancer is internal: CloudFront reaches it through a VPC origin, whose network interfaces
    // are in the VPC, and nothing on the internet can (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-vpc-origins.html).
    const loadBalancer = createLoadBalancer(site, context, false, requireTwoAzs(context.privateSubnets));
    loadBalancer.connections.allowFrom(ec2.Peer.ipv4(context.vpc.vpcCidrBlock), ec2.Port.tcp(80),
      'CloudFront VPC origin: its network interfaces are in the VPC');
    acknowledge(loadBalancer, 'AwsSolutions-EC23',
      'the internal load balancer accepts port 80 from the VPC\'s own CIDR block only (a deploy-time value cdk-nag cannot read), where the VPC origin connects from');
    const targetGroup = createTargetGroup(site, context);
    const listener = loadBalancer.addListener('Http', { port: 80, defaultTargetGroups: [targetGroup], open: false });

    const origin = origins.VpcOrigin.withApplicationLoadBalancer(loadBalancer, {
      protocolPolicy: cloudfront.OriginProtocolPolicy.HTTP_ONLY,
      httpPort: 80,
      readTimeout: Duration.seconds(60),
    });
    const policies = new EdgePolicies(site, 'EdgePolicies', context, this.options.staticFilesTtl ?? Duration.days(7));
    const dynamic: cloudfront.BehaviorOptions = {
      origin,
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      originRequestPolicy: policies.dynamicOrigin,
      compress: true,
    };
    const staticFiles: cloudfront.BehaviorOptions = {
      origin,
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
      cachePolicy: policies.staticFiles,
      compress: true,
    };
    const distribution = new cloudfront.Distribution(site, 'Distribution', {
      comment: `WordPress ${context.domainName ?? Stack.of(site).stackName}`,
      defaultBehavior: {
        origin,
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        // Every method reaches the origin (forms post to pages); CloudFront caches only GET and HEAD.
        allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
        cachePolicy: policies.pages,
        originRequestPolicy: policies.pageOrigin,
        compress: true,
      },
      additionalBehaviors: {
        [context.healthCheckPath]: dynamic,
        ...Object.fromEntries(DYNAMIC_PATHS.map((path) => [path, dynamic])),
        ...Object.fromEntries(STATIC_PATHS.map((path) => [path, staticFiles])),
      },
      domainNames: context.domainName ? [context.domainName] : undefined,
      certificate,
      // The default *.cloudfront.net certificate has a fixed policy: the minimum applies to a domain's certificate only.
      minimumProtocolVersion: certificate ? cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 : undefined,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      enableIpv6: true,
      // The cache hit rate and origin latency on the site's dashboard (extra CloudWatch metrics, at their price).
      publishAdditionalMetrics: true,
      priceClass: this.options.priceClass ?? cloudfront.PriceClass.PRICE_CLASS_ALL,
      webAclId: firewall.webAclArn,
    });
    acknowledge(distribution, 'AwsSolutions-CFR1',
      'a public website serves every country; geo restrictions are the owner\'s choice, through the distribution');
    acknowledge(distribution, 'AwsSolutions-CFR3',
      'standard access logs need an S3 bucket with ACLs enabled, which the owner chooses; the web ACL logs every request it counts or blocks');
    if (!context.domainName) {
      acknowledge(distribution, 'AwsSolutions-CFR4',
        'without a domain the distribution serves on its *.cloudfront.net name, whose certificate CloudFront manages and whose minimum TLS version cannot be set');
    }

    const healthCheck = context.domainName && context.domainZone
      ? createDns(new Construct(site, 'DNS'), context, route53.RecordTarget.fromAlias(new route53targets.CloudFrontTarget(distribution)), true)
      : undefined;
    const url = context.domainName ? `https://${context.domainName}` : `https://${distribution.distributionDomainName}`;
    return { kind: 'cloudfront', url, loadBalancer, listener, targetGroup, certificate, distribution, firewall, healthCheck };
  }

  /** The distribution's certificate, which CloudFront takes from us-east-1 only. */
  private certificate(site: Construct, context: EdgeContext, inUsEast1: boolean, here: string): acm.ICertificate | undefined {
    const { domainName, domainZone } = context;
    if (!domainName || !domainZone) {
      return undefined;
    }
    if (context.certificate) {
      const arn = context.certificate.certificateArn;
      const certificateRegion = Token.isUnresolved(arn) ? undefined : Arn.split(arn, ArnFormat.SLASH_RESOURCE_NAME).region;
      if (certificateRegion !== undefined && certificateRegion !== 'us-east-1') {
        throw new Error(`certificate is in ${certificateRegion}, but CloudFront takes certificates from us-east-1 only. Pass a certificate for ${domainName} made in us-east-1.`);
      }
      return context.certificate;
    }
    if (!inUsEast1) {
      throw new Error(
        `WordPressEdge.cloudFront() with domainName '${domainName}' needs a certificate in us-east-1, and the site is in ${here}. Either give the ` +
        'site\'s stack env: { region: \'us-east-1\' }, or make an acm.Certificate in a us-east-1 stack and pass it as certificate, ' +
        'with crossRegionReferences: true on the site\'s stack.',
      );
    }
    return new acm.Certificate(new Construct(site, 'EdgeCertificate'), 'Certificate', {
      domainName,
      validation: acm.CertificateValidation.fromDns(domainZone),
    });
  }
}

/**
 * The cache and origin-request policies of a WordPress site.
 *
 * - Pages: anonymous pages are cached for the page cache's lifetime. The cache key holds the host, the query
 *   string, an `Authorization` header and the cookies that make a page personal, so that a logged-in user,
 *   a commenter or a visitor of a password-protected post never gets the anonymous copy. Their own pages are
 *   never stored either: the origin marks every response it would not cache itself `Cache-Control: private,
 *   no-store`, and with a minimum TTL of 0 CloudFront honours it (CachePolicyConfig, "Important":
 *   https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CachePolicyConfig.html). Only the personal
 *   cookies reach the origin, so no other cookie can personalize a page that is then cached.
 * - Dynamic paths: nothing cached, everything forwarded.
 * - Static files: cached long, keyed by path and query string, no cookie.
 *
 * The origin gets `CloudFront-Forwarded-Proto` (WordPress's `is_ssl()`, since the load balancer only sees
 * HTTP from CloudFront) and `CloudFront-Viewer-Address` (the visitor's IP for comments and logs): CloudFront
 * sets both itself, and only CloudFront reaches the origin, so neither can be forged.
 */
class EdgePolicies extends Construct {
  public readonly pages: cloudfront.ICachePolicy;
  public readonly pageOrigin: cloudfront.IOriginRequestPolicy;
  public readonly dynamicOrigin: cloudfront.IOriginRequestPolicy;
  public readonly staticFiles: cloudfront.ICachePolicy;

  constructor(scope: Construct, id: string, context: EdgeContext, staticFilesTtl: Duration) {
    super(scope, id);
    const cookies = personalCookies(context.cookieHash);
    const viewer = ['CloudFront-Forwarded-Proto', 'CloudFront-Viewer-Address'];
    const seconds = context.pageCacheSeconds;
    this.pages = seconds > 0
      ? new cloudfront.CachePolicy(this, 'Pages', {
        comment: 'WordPress pages: anonymous copies only; personal cookies and credentials in the key',
        minTtl: Duration.seconds(0),
        defaultTtl: Duration.seconds(seconds),
        maxTtl: Duration.seconds(seconds),
        headerBehavior: cloudfront.CacheHeaderBehavior.allowList('Host', 'Authorization'),
        cookieBehavior: cloudfront.CacheCookieBehavior.allowList(...cookies),
        queryStringBehavior: cloudfront.CacheQueryStringBehavior.all(),
        enableAcceptEncodingGzip: true,
        enableAcceptEncodingBrotli: true,
      })
      : cloudfront.CachePolicy.CACHING_DISABLED;
    this.dynamicOrigin = new cloudfront.OriginRequestPolicy(this, 'DynamicOrigin', {
      comment: 'WordPress admin, login, REST API, comments: every header, cookie and query string',
      headerBehavior: cloudfront.OriginRequestHeaderBehavior.all(...viewer),
      cookieBehavior: cloudfront.OriginRequestCookieBehavior.all(),
      queryStringBehavior: cloudfront.OriginRequestQueryStringBehavior.all(),
    });
    // With the page cache off nothing is stored, and pages get what the dynamic paths get.
    this.pageOrigin = seconds > 0
      ? new cloudfront.OriginRequestPolicy(this, 'PageOrigin', {
        comment: 'WordPress pages: the scheme and address of the visitor, the query string; the cache key adds the host, credentials and personal cookies',
        headerBehavior: cloudfront.OriginRequestHeaderBehavior.allowList(...viewer),
        cookieBehavior: cloudfront.OriginRequestCookieBehavior.none(),
        queryStringBehavior: cloudfront.OriginRequestQueryStringBehavior.all(),
      })
      : this.dynamicOrigin;
    this.staticFiles = new cloudfront.CachePolicy(this, 'StaticFiles', {
      comment: 'WordPress static files: long-lived, keyed by path and query string (?ver=)',
      minTtl: Duration.seconds(0),
      defaultTtl: staticFilesTtl,
      maxTtl: Duration.days(365),
      queryStringBehavior: cloudfront.CacheQueryStringBehavior.all(),
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    });
  }
}

function createLoadBalancer(site: Construct, context: EdgeContext, internetFacing: boolean, subnets: ec2.SelectedSubnets) {
  const loadBalancer = new elbv2.ApplicationLoadBalancer(site, 'LoadBalancer', {
    vpc: context.vpc,
    internetFacing,
    vpcSubnets: { subnets: subnets.subnets },
    ipAddressType: context.dualStack && internetFacing ? elbv2.IpAddressType.DUAL_STACK : elbv2.IpAddressType.IPV4,
    dropInvalidHeaderFields: true,
    deletionProtection: context.removalPolicy !== RemovalPolicy.DESTROY,
  });
  if (context.accessLogs) {
    logAccessLogs(loadBalancer, context.accessLogBucket ?? createAccessLogBucket(site, context.removalPolicy));
  } else {
    acknowledge(loadBalancer, 'AwsSolutions-ELB2', 'the owner turned access logs off (accessLogs: false)');
  }
  return loadBalancer;
}

/** Access logs are kept 90 days: long enough to look into an incident, short enough to hold little personal data. */
function createAccessLogBucket(site: Construct, removalPolicy?: RemovalPolicy): s3.Bucket {
  const bucket = new s3.Bucket(site, 'AccessLogs', {
    // Load balancers write access logs only to buckets encrypted with S3-managed keys (SSE-S3), not KMS.
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    versioned: true,
    lifecycleRules: [{ expiration: Duration.days(90), noncurrentVersionExpiration: Duration.days(1) }],
    removalPolicy: retainUnlessDestroyed(removalPolicy),
    autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
  });
  acknowledge(bucket, 'AwsSolutions-S1',
    'this bucket holds the load balancer\'s access logs; logging the access to it would need yet another bucket');
  return bucket;
}

/**
 * Turns the load balancer's access logs on, into BUCKET. Unlike `ApplicationLoadBalancer.logAccessLogs()`, this
 * works in a stack without a region: the bucket policy names the log delivery service principal, which Elastic
 * Load Balancing documents for every Region ("Enable access logs for your Application Load Balancer": the
 * legacy per-Region account principals still work where they exist, but AWS recommends the service principal).
 */
function logAccessLogs(loadBalancer: elbv2.ApplicationLoadBalancer, bucket: s3.IBucket) {
  loadBalancer.setAttribute('access_logs.s3.enabled', 'true');
  loadBalancer.setAttribute('access_logs.s3.bucket', bucket.bucketName);
  const added = bucket.addToResourcePolicy(new iam.PolicyStatement({
    actions: ['s3:PutObject'],
    principals: [new iam.ServicePrincipal('logdelivery.elasticloadbalancing.amazonaws.com')],
    resources: [bucket.arnForObjects(`AWSLogs/${Aws.ACCOUNT_ID}/*`)],
  }));
  // The load balancer checks that it may write when the attribute is set: the policy must exist first.
  if (added.policyDependable) {
    loadBalancer.node.addDependency(added.policyDependable);
  }
}

function createTargetGroup(site: Construct, context: EdgeContext) {
  return new elbv2.ApplicationTargetGroup(site, 'TargetGroup', {
    vpc: context.vpc,
    port: 80,
    protocol: elbv2.ApplicationProtocol.HTTP,
    targets: [context.autoScalingGroup],
    deregistrationDelay: Duration.seconds(30),
    healthCheck: {
      path: context.healthCheckPath,
      healthyHttpCodes: '200',
      interval: Duration.seconds(15),
      timeout: Duration.seconds(5),
      healthyThresholdCount: 2,
      unhealthyThresholdCount: 3,
    },
  });
}

/**
 * A and AAAA alias records, and a Route 53 health check on the health path through the site's own name:
 * what visitors reach, through the edge if there is one (the load balancer behind CloudFront is internal,
 * so a check at the origin could not reach it).
 */
function createDns(scope: Construct, context: EdgeContext, target: route53.RecordTarget, ipv6: boolean): route53.CfnHealthCheck {
  const zone = context.domainZone!;
  const recordName = context.domainName!;
  new route53.ARecord(scope, 'Alias', { zone, recordName, target });
  if (ipv6) {
    new route53.AaaaRecord(scope, 'AliasIpv6', { zone, recordName, target });
  }
  return new route53.CfnHealthCheck(scope, 'HealthCheck', {
    healthCheckConfig: {
      type: 'HTTPS',
      fullyQualifiedDomainName: recordName,
      port: 443,
      resourcePath: context.healthCheckPath,
      enableSni: true,
      requestInterval: 30,
      failureThreshold: 3,
    },
    healthCheckTags: [{ key: 'Name', value: recordName }],
  });
}

/** The load balancer's subnets: public ones in two or more AZs, as an internet-facing ALB needs. */
function selectPublicSubnets(vpc: ec2.IVpc): ec2.SelectedSubnets {
  const fix = 'The site\'s internet-facing load balancer needs public subnets (with a route to an internet gateway) in two or more ' +
    'Availability Zones: pass a vpc that has them, e.g. one made with subnetType PUBLIC in its subnetConfiguration.';
  let selected: ec2.SelectedSubnets;
  try {
    selected = vpc.selectSubnets({ subnetType: ec2.SubnetType.PUBLIC });
  } catch {
    throw new Error(`vpc has no public subnets. ${fix}`);
  }
  const azs = distinctAzs(selected);
  if (azs.length < 2) {
    throw new Error(`vpc has public subnets in ${describeAzs(azs.length)} only. ${fix}`);
  }
  return selected;
}

function requireTwoAzs(subnets: ec2.SelectedSubnets): ec2.SelectedSubnets {
  const azs = distinctAzs(subnets);
  if (azs.length < 2) {
    throw new Error(
      `vpcSubnets span ${describeAzs(azs.length)}, but the internal load balancer behind CloudFront goes in the instances' private subnets ` +
      'and needs two or more Availability Zones. Pass vpcSubnets (or a vpc) with private subnets in two or more AZs.',
    );
  }
  return subnets;
}
