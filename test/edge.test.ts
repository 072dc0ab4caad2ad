import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { FirewallMode, FirewallTarget, ScalableWordPress, WordPressEdge, WordPressFirewall } from '../src';
import { synth, synthWith, userDataOf, zone } from './util';

const US_EAST_1 = { env: { region: 'us-east-1' } };

function distributionConfig(template: Template) {
  return Object.values(template.findResources('AWS::CloudFront::Distribution'))[0].Properties.DistributionConfig;
}

function behaviorFor(template: Template, path: string) {
  return distributionConfig(template).CacheBehaviors.find((b: any) => b.PathPattern === path);
}

/** The cache policy config that a behavior's CachePolicyId refers to. */
function cachePolicyOf(template: Template, behavior: any) {
  const id = behavior.CachePolicyId.Ref;
  return id ? template.toJSON().Resources[id].Properties.CachePolicyConfig : behavior.CachePolicyId;
}

function originRequestPolicyOf(template: Template, behavior: any) {
  return template.toJSON().Resources[behavior.OriginRequestPolicyId.Ref].Properties.OriginRequestPolicyConfig;
}

describe('edge: CloudFront with AWS WAF', () => {
  const { stack, site, template } = synth({ edge: WordPressEdge.cloudFront() }, US_EAST_1);
  const hash = /COOKIE_HASH='([0-9a-f]{32})'/.exec(userDataOf(template))![1];

  test('serves HTTPS only, over HTTP/2 and HTTP/3 and IPv6, compressed, on every edge location', () => {
    const config = distributionConfig(template);
    expect(config).toMatchObject({
      Enabled: true,
      HttpVersion: 'http2and3',
      IPV6Enabled: true,
      PriceClass: 'PriceClass_All',
      DefaultCacheBehavior: expect.objectContaining({ ViewerProtocolPolicy: 'redirect-to-https', Compress: true }),
    });
    for (const behavior of config.CacheBehaviors) {
      expect([behavior.PathPattern, behavior.ViewerProtocolPolicy, behavior.Compress]).toEqual([behavior.PathPattern, 'redirect-to-https', true]);
    }
    // Without a domain the site is https on the distribution's own name: no plain-HTTP warning.
    expect(stack.resolve(site.url)).toEqual({ 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [expect.any(String), 'DomainName'] }]] });
  });

  test('caches anonymous pages for the page cache lifetime, keyed by host, query string, credentials and the personal cookies', () => {
    const defaults = distributionConfig(template).DefaultCacheBehavior;
    expect(defaults.AllowedMethods).toEqual(['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE']);
    const policy = cachePolicyOf(template, defaults);
    expect(policy).toMatchObject({ MinTTL: 0, DefaultTTL: 60, MaxTTL: 60 });
    const key = policy.ParametersInCacheKeyAndForwardedToOrigin;
    expect(key.HeadersConfig).toEqual({ HeaderBehavior: 'whitelist', Headers: ['Host', 'Authorization'] });
    expect(key.QueryStringsConfig).toEqual({ QueryStringBehavior: 'all' });
    // WordPress's cookie names end in COOKIEHASH, which the boot fixes to the same value.
    expect(key.CookiesConfig).toEqual({
      CookieBehavior: 'whitelist',
      Cookies: ['wordpress_logged_in_', 'wordpress_sec_', 'wp-postpass_', 'comment_author_', 'comment_author_email_'].map((c) => c + hash),
    });
    // MinTTL 0: CloudFront honours the origin's `Cache-Control: private, no-store` on personal responses.
    expect(policy.MinTTL).toBe(0);
  });

  test('forwards no other cookie to a cached page, so none can personalize it', () => {
    const origin = originRequestPolicyOf(template, distributionConfig(template).DefaultCacheBehavior);
    expect(origin.CookiesConfig).toEqual({ CookieBehavior: 'none' });
    expect(origin.HeadersConfig).toEqual({ HeaderBehavior: 'whitelist', Headers: ['CloudFront-Forwarded-Proto', 'CloudFront-Viewer-Address'] });
  });

  test.each([
    '/wp-admin/*', '/wp-login.php', '/wp-cron.php', '/xmlrpc.php', '/wp-json/*', '/wp-comments-post.php', '/healthz.php', '/wp-content/*.php',
  ])('never caches %s, and forwards every header, cookie and query string', (path) => {
    const behavior = behaviorFor(template, path);
    expect(behavior).toBeDefined();
    expect(behavior.CachePolicyId).toBe(cloudfront.CachePolicy.CACHING_DISABLED.cachePolicyId);
    expect(behavior.AllowedMethods).toHaveLength(7);
    expect(originRequestPolicyOf(template, behavior)).toMatchObject({
      CookiesConfig: { CookieBehavior: 'all' },
      QueryStringsConfig: { QueryStringBehavior: 'all' },
      HeadersConfig: { HeaderBehavior: 'allViewerAndWhitelistCloudFront', Headers: ['CloudFront-Forwarded-Proto', 'CloudFront-Viewer-Address'] },
    });
  });

  test('matches PHP under wp-content before the static files around it', () => {
    const paths = distributionConfig(template).CacheBehaviors.map((b: any) => b.PathPattern);
    expect(paths.indexOf('/wp-content/*.php')).toBeLessThan(paths.indexOf('/wp-content/*'));
    expect(paths.indexOf('/wp-includes/*.php')).toBeLessThan(paths.indexOf('/wp-includes/*'));
  });

  test.each(['/wp-content/*', '/wp-includes/*'])('caches static files under %s long, with the query string in the key and no cookie', (path) => {
    const behavior = behaviorFor(template, path);
    expect(behavior.AllowedMethods).toEqual(['GET', 'HEAD', 'OPTIONS']);
    expect(behavior.OriginRequestPolicyId).toBeUndefined();
    const policy = cachePolicyOf(template, behavior);
    expect(policy).toMatchObject({ DefaultTTL: 7 * 86400, MaxTTL: 365 * 86400 });
    expect(policy.ParametersInCacheKeyAndForwardedToOrigin).toMatchObject({
      CookiesConfig: { CookieBehavior: 'none' },
      QueryStringsConfig: { QueryStringBehavior: 'all' },
      EnableAcceptEncodingBrotli: true,
      EnableAcceptEncodingGzip: true,
    });
  });

  test('locks the origin: an internal load balancer in the private subnets, reached through a VPC origin, open to the VPC only', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Scheme: 'internal',
      Subnets: stack.resolve(site.vpc.privateSubnets.map((s) => s.subnetId)),
    });
    template.hasResourceProperties('AWS::CloudFront::VpcOrigin', {
      VpcOriginEndpointConfig: Match.objectLike({
        Arn: stack.resolve(site.loadBalancer.loadBalancerArn),
        OriginProtocolPolicy: 'http-only',
        HTTPPort: 80,
      }),
    });
    const lbSg = stack.resolve(site.loadBalancer.connections.securityGroups[0].securityGroupId)['Fn::GetAtt'][0];
    const sg = template.toJSON().Resources[lbSg].Properties;
    expect(sg.SecurityGroupIngress).toStrictEqual([{
      CidrIp: stack.resolve(site.vpc.vpcCidrBlock),
      Description: 'CloudFront VPC origin: its network interfaces are in the VPC',
      FromPort: 80,
      IpProtocol: 'tcp',
      ToPort: 80,
    }]);
    template.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 1);
  });

  test('puts the web ACL in front, with the managed rule groups for WordPress and a login rate limit', () => {
    const acl = Object.values(template.findResources('AWS::WAFv2::WebACL'))[0].Properties;
    expect(stack.resolve(distributionConfig(template).WebACLId)).toEqual(stack.resolve(site.firewall!.webAclArn));
    expect(acl.Scope).toBe('CLOUDFRONT');
    expect(acl.DefaultAction).toEqual({ Allow: {} });
    const groups = acl.Rules.filter((r: any) => r.Statement.ManagedRuleGroupStatement).map((r: any) => r.Statement.ManagedRuleGroupStatement.Name);
    expect(groups).toEqual([
      'AWSManagedRulesAmazonIpReputationList', 'AWSManagedRulesCommonRuleSet', 'AWSManagedRulesKnownBadInputsRuleSet',
      'AWSManagedRulesSQLiRuleSet', 'AWSManagedRulesPHPRuleSet', 'AWSManagedRulesWordPressRuleSet',
    ]);
    for (const rule of acl.Rules.filter((r: any) => r.Statement.ManagedRuleGroupStatement)) {
      expect([rule.Name, rule.OverrideAction]).toEqual([rule.Name, { None: {} }]);
    }
    const rate = acl.Rules.find((r: any) => r.Name === 'LoginRateLimit');
    expect(rate.Action).toEqual({ Block: {} });
    expect(rate.Statement.RateBasedStatement).toMatchObject({ Limit: 100, AggregateKeyType: 'IP', EvaluationWindowSec: 300 });
    const paths = rate.Statement.RateBasedStatement.ScopeDownStatement.OrStatement.Statements.map((s: any) => s.ByteMatchStatement.SearchString);
    expect(paths).toEqual(['/wp-login.php', '/xmlrpc.php']);
  });

  test('lets uploads and the block editor through: the core rule set\'s body-size and XSS-in-body rules only count', () => {
    const acl = Object.values(template.findResources('AWS::WAFv2::WebACL'))[0].Properties;
    const crs = acl.Rules.find((r: any) => r.Name === 'AWSManagedRulesCommonRuleSet');
    expect(crs.Statement.ManagedRuleGroupStatement.RuleActionOverrides).toEqual([
      { Name: 'SizeRestrictions_BODY', ActionToUse: { Count: {} } },
      { Name: 'CrossSiteScripting_BODY', ActionToUse: { Count: {} } },
    ]);
  });

  test('logs the firewall to a log group WAF may write to, with cookies and credentials redacted', () => {
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: Match.stringLikeRegexp('^aws-waf-logs-'), RetentionInDays: 90 });
    template.hasResourceProperties('AWS::WAFv2::LoggingConfiguration', {
      RedactedFields: [{ SingleHeader: { Name: 'cookie' } }, { SingleHeader: { Name: 'authorization' } }],
    });
  });

  test('lets the instances invalidate this distribution, and no other', () => {
    const distributionId = stack.resolve(site.distribution!.distributionId);
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([{
          Action: 'cloudfront:CreateInvalidation',
          Effect: 'Allow',
          Resource: {
            'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudfront::', { Ref: 'AWS::AccountId' }, ':distribution/', distributionId]],
          },
        }]),
      },
    });
  });

  test('tells the instances about the edge: its kind, the distribution to purge, the cookie hash', () => {
    const userData = userDataOf(template);
    expect(userData).toContain("WP_EDGE='cloudfront'");
    expect(userData).toContain(`WP_DISTRIBUTION_ID='\${Ref:${stack.resolve(site.distribution!.distributionId).Ref}}'`);
    expect(userData).toMatch(/WP_SITE_URL='https:\/\/\$\{GetAtt:SiteDistribution[0-9A-F]+\.DomainName\}'/);
  });
});

describe('edge: CloudFront with a domain', () => {
  const { template } = synthWith((s) => ({ edge: WordPressEdge.cloudFront(), domainName: 'blog.example.com', domainZone: zone(s) }), US_EAST_1);

  test('serves the domain with a DNS-validated certificate and TLS 1.2 at least', () => {
    const config = distributionConfig(template);
    expect(config.Aliases).toEqual(['blog.example.com']);
    expect(config.ViewerCertificate).toMatchObject({ MinimumProtocolVersion: 'TLSv1.2_2021', SslSupportMethod: 'sni-only' });
    template.hasResourceProperties('AWS::CertificateManager::Certificate', { DomainName: 'blog.example.com', ValidationMethod: 'DNS' });
  });

  test('points the A and AAAA aliases at the distribution, and the health check through it', () => {
    for (const type of ['A', 'AAAA']) {
      template.hasResourceProperties('AWS::Route53::RecordSet', {
        Name: 'blog.example.com.',
        Type: type,
        AliasTarget: Match.objectLike({ DNSName: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SiteDistribution'), 'DomainName'] } }),
      });
    }
    template.hasResourceProperties('AWS::Route53::HealthCheck', {
      HealthCheckConfig: Match.objectLike({ FullyQualifiedDomainName: 'blog.example.com', ResourcePath: '/healthz.php', Type: 'HTTPS' }),
    });
  });
});

describe('edge: CloudFront options', () => {
  test('count-only mode counts every rule and blocks nothing', () => {
    const app = new App();
    const edgeStack = new Stack(app, 'Edge', US_EAST_1);
    const firewall = new WordPressFirewall(edgeStack, 'Firewall', { mode: FirewallMode.COUNT, loginRequestsPerFiveMinutes: 20 });
    const acl = Object.values(Template.fromStack(edgeStack).findResources('AWS::WAFv2::WebACL'))[0].Properties;
    for (const rule of acl.Rules) {
      expect([rule.Name, rule.OverrideAction ?? rule.Action]).toEqual([rule.Name, { Count: {} }]);
    }
    expect(acl.Rules.find((r: any) => r.Name === 'LoginRateLimit').Statement.RateBasedStatement.Limit).toBe(20);
    expect(firewall.webAcl).toBeDefined();
  });

  test('a site in another region takes a firewall and a certificate made in us-east-1, across regions', () => {
    // GIVEN the firewall and certificate in a us-east-1 stack, and the site in eu-west-1
    const app = new App();
    const edgeStack = new Stack(app, 'Edge', { env: { account: '111111111111', region: 'us-east-1' } });
    const firewall = new WordPressFirewall(edgeStack, 'Firewall');
    const certificate = new acm.Certificate(edgeStack, 'Certificate', { domainName: 'blog.example.com' });
    const siteStack = new Stack(app, 'Blog', { env: { account: '111111111111', region: 'eu-west-1' }, crossRegionReferences: true });
    // WHEN
    new ScalableWordPress(siteStack, 'Site', {
      edge: WordPressEdge.cloudFront({ firewall }),
      domainName: 'blog.example.com',
      domainZone: zone(siteStack),
      certificate,
    });
    // THEN the site's distribution uses both, and makes neither
    const template = Template.fromStack(siteStack);
    template.resourceCountIs('AWS::WAFv2::WebACL', 0);
    template.resourceCountIs('AWS::CertificateManager::Certificate', 0);
    const config = distributionConfig(template);
    expect(JSON.stringify(config.WebACLId)).toMatch(/Firewall/);
    expect(JSON.stringify(config.ViewerCertificate.AcmCertificateArn)).toMatch(/Certificate/);
  });

  test('pageCacheTtl 0 turns page caching off at the edge too, and pages then get everything, as the dynamic paths do', () => {
    const { template } = synth({ edge: WordPressEdge.cloudFront(), pageCacheTtl: Duration.seconds(0) }, US_EAST_1);
    const defaults = distributionConfig(template).DefaultCacheBehavior;
    expect(defaults.CachePolicyId).toBe(cloudfront.CachePolicy.CACHING_DISABLED.cachePolicyId);
    expect(originRequestPolicyOf(template, defaults).CookiesConfig).toEqual({ CookieBehavior: 'all' });
    expect(defaults.OriginRequestPolicyId).toEqual(behaviorFor(template, '/wp-admin/*').OriginRequestPolicyId);
  });

  test('the load balancer edge stays the default: internet-facing, no distribution, a regional web ACL', () => {
    const { template, site } = synth();
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Scheme: 'internet-facing' });
    template.resourceCountIs('AWS::CloudFront::Distribution', 0);
    template.resourceCountIs('AWS::WAFv2::WebACL', 1);
    expect(site.firewall?.target).toBe(FirewallTarget.LOAD_BALANCER);
    expect(site.distribution).toBeUndefined();
    expect(userDataOf(template)).toContain("WP_EDGE='load-balancer'");
  });
});

describe('edge: what CloudFront needs from us-east-1 fails at synth time when it cannot be had', () => {
  test.each([
    ['an environment-agnostic stack', {}, /needs a web ACL in us-east-1, and the site is in an environment-agnostic stack\. Either give the site's stack env: \{ region: 'us-east-1' \}, or make a WordPressFirewall in a us-east-1 stack/],
    ['a stack in eu-west-1', { env: { region: 'eu-west-1' } }, /needs a web ACL in us-east-1, and the site is in a stack in eu-west-1\..*crossRegionReferences: true/],
  ])('fails without a firewall in %s', (_, stackProps, message) => {
    const stack = new Stack(new App(), 'Test', stackProps);
    expect(() => new ScalableWordPress(stack, 'Site', { edge: WordPressEdge.cloudFront() })).toThrow(message);
  });

  test('fails with a domain but no us-east-1 certificate in another region', () => {
    const app = new App();
    const firewall = new WordPressFirewall(new Stack(app, 'Edge', { env: { account: '111111111111', region: 'us-east-1' } }), 'Firewall');
    const stack = new Stack(app, 'Test', { env: { account: '111111111111', region: 'eu-west-1' }, crossRegionReferences: true });
    expect(() => new ScalableWordPress(stack, 'Site', { edge: WordPressEdge.cloudFront({ firewall }), domainName: 'blog.example.com', domainZone: zone(stack) }))
      .toThrow(/with domainName 'blog\.example\.com' needs a certificate in us-east-1, and the site is in a stack in eu-west-1/);
  });

  test('fails with a certificate from another region', () => {
    const stack = new Stack(new App(), 'Test', US_EAST_1);
    const certificate = acm.Certificate.fromCertificateArn(stack, 'Cert', 'arn:aws:acm:eu-west-1:111111111111:certificate/abc');
    expect(() => new ScalableWordPress(stack, 'Site', { edge: WordPressEdge.cloudFront(), domainName: 'blog.example.com', domainZone: zone(stack), certificate }))
      .toThrow(/certificate is in eu-west-1, but CloudFront takes certificates from us-east-1 only/);
  });

  test.each([
    ['an environment-agnostic stack', {}, /WordPressFirewall is in a stack whose region is not set, but a web ACL for CloudFront must be in us-east-1/],
    ['eu-west-1', { env: { region: 'eu-west-1' } }, /WordPressFirewall is in a stack whose region is eu-west-1/],
  ])('fails to make a firewall in %s', (_, stackProps, message) => {
    expect(() => new WordPressFirewall(new Stack(new App(), 'Test', stackProps), 'Firewall')).toThrow(message);
  });

  test('fails on a login rate limit AWS WAF does not take', () => {
    expect(() => new WordPressFirewall(new Stack(new App(), 'Test', US_EAST_1), 'Firewall', { loginRequestsPerFiveMinutes: 5 }))
      .toThrow(/WordPressFirewall loginRequestsPerFiveMinutes is 5, but it must be a whole number from 10/);
  });

  test('fails on a static files TTL beyond a year', () => {
    expect(() => WordPressEdge.cloudFront({ staticFilesTtl: Duration.days(400) }))
      .toThrow(/WordPressEdge\.cloudFront\(\{ staticFilesTtl \}\) is 34560000 s, but it must be whole seconds up to a year/);
  });
});
