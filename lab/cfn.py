#!/usr/bin/env python3
"""The lab's CloudFormation: turns a synthesized template into what an instance of it would receive.

It renders the launch template's user data exactly as CloudFormation would, resolving each Ref and
Fn::GetAtt from a table of lab values keyed by resource type and attribute (not by logical ID, so the
lab follows the construct as it changes), and each Fn::FindInMap from the template's own Mappings (the
lab's partition is aws). A reference to anything the table does not know fails the
lab: the user data must never reach an instance half-resolved.

It also generates the stack's secrets the way Secrets Manager's GenerateSecretString does, from the
template's own settings (length, template, key, excluded characters), so the boot script meets secrets
of the real shape: salts full of $, ' and \\.

Usage: cfn.py TEMPLATE VALUES.json OUT_DIR
  VALUES.json: {"region", "urlSuffix", "accountId", "stackName", "writerHost", "readerHost", "dbPort", "siteHost",
                "fileSystemId", "volumeId", "distributionId", "edgeHost"}
  writes OUT_DIR/user-data and OUT_DIR/secrets.json ({arn: secret string}), OUT_DIR/stack.json
  ({signalResource, bootResource, ...}) and OUT_DIR/resources.json: what CloudFormation's DescribeStackResource
  answers for the stack, {stackName: {logicalId: {type, metadata}}}, with the launch template's Metadata
  resolved like its user data (the boot files travel there).
"""
import json
import secrets
import string
import sys

# What Secrets Manager draws passwords from: printable ASCII without space (IncludeSpace is false).
PASSWORD_ALPHABET = string.ascii_letters + string.digits + string.punctuation


class Unresolvable(Exception):
    pass


def secret_arn(values, logical_id):
    # Unique per stack, as real ARNs are: two stacks of the same construct share logical IDs.
    return f"arn:aws:secretsmanager:{values['region']}:{values['accountId']}:secret:{values['stackName']}-{logical_id}-lab"


def resolve_ref(template, values, name):
    pseudo = {
        'AWS::Region': values['region'],
        'AWS::URLSuffix': values['urlSuffix'],
        'AWS::AccountId': values['accountId'],
        'AWS::Partition': 'aws',
        'AWS::StackName': values['stackName'],
    }
    if name in pseudo:
        return pseudo[name]
    resource = template['Resources'].get(name)
    if resource is None:
        raise Unresolvable(f'Ref to unknown resource or parameter {name}')
    kind = resource['Type']
    if kind == 'AWS::SecretsManager::Secret':
        return secret_arn(values, name)
    if kind == 'AWS::SecretsManager::SecretTargetAttachment':
        # Ref of an attachment is the ARN of the secret it attaches.
        return resolve(template, values, resource['Properties']['SecretId'])
    if kind == 'AWS::EFS::FileSystem':
        return values['fileSystemId']
    if kind == 'AWS::EC2::Volume':
        return values['volumeId']
    if kind == 'AWS::CloudFront::Distribution':
        return values['distributionId']
    if kind == 'AWS::Logs::LogGroup':
        # CloudFormation names a log group STACK-LOGICALID-SUFFIX when the template gives no name.
        return f"{values['stackName']}-{name}-lab"
    raise Unresolvable(f'the lab has no value for Ref of {kind} ({name})')


def resolve_getatt(template, values, name, attribute):
    resource = template['Resources'].get(name)
    if resource is None:
        raise Unresolvable(f'Fn::GetAtt of unknown resource {name}')
    table = {
        ('AWS::RDS::DBInstance', 'Endpoint.Address'): values['writerHost'],
        ('AWS::RDS::DBInstance', 'Endpoint.Port'): str(values['dbPort']),
        ('AWS::RDS::DBCluster', 'Endpoint.Address'): values['writerHost'],
        ('AWS::RDS::DBCluster', 'ReadEndpoint.Address'): values['readerHost'],
        ('AWS::RDS::DBCluster', 'Endpoint.Port'): str(values['dbPort']),
        ('AWS::ElasticLoadBalancingV2::LoadBalancer', 'DNSName'): values['siteHost'],
        ('AWS::CloudFront::Distribution', 'DomainName'): values['edgeHost'],
        ('AWS::CloudFront::Distribution', 'Id'): values['distributionId'],
        ('AWS::ElastiCache::ServerlessCache', 'Endpoint.Address'): values.get('cacheHost'),
    }
    if (resource['Type'], attribute) == ('AWS::IAM::Role', 'Arn'):
        # CloudFormation names a role STACK-LOGICALID-SUFFIX when the template gives no name.
        return f"arn:aws:iam::{values['accountId']}:role/{values['stackName']}-{name}-lab"
    key = (resource['Type'], attribute)
    if key not in table:
        raise Unresolvable(f'the lab has no value for Fn::GetAtt {attribute} of {resource["Type"]} ({name})')
    return table[key]


def resolve(template, values, node):
    if isinstance(node, str):
        return node
    if isinstance(node, (int, float)):
        return str(node)
    if isinstance(node, dict) and len(node) == 1:
        (fn, arg), = node.items()
        if fn == 'Ref':
            return resolve_ref(template, values, arg)
        if fn == 'Fn::GetAtt':
            name, attribute = arg if isinstance(arg, list) else arg.split('.', 1)
            return resolve_getatt(template, values, name, attribute)
        if fn == 'Fn::Join':
            separator, parts = arg
            return separator.join(resolve(template, values, part) for part in parts)
        if fn == 'Fn::Base64':
            return resolve(template, values, arg)
        if fn == 'Fn::FindInMap':
            mapping, top, second = (resolve(template, values, part) for part in arg)
            try:
                return resolve(template, values, template['Mappings'][mapping][top][second])
            except KeyError:
                raise Unresolvable(f'Fn::FindInMap: the template maps no {mapping} / {top} / {second}')
    raise Unresolvable(f'the lab cannot resolve {json.dumps(node)[:200]}')


def resolve_deep(template, values, node):
    """A whole document (Metadata): plain dicts and lists kept, every intrinsic function resolved."""
    if isinstance(node, dict) and not (len(node) == 1 and (next(iter(node)) == 'Ref' or next(iter(node)).startswith('Fn::'))):
        return {key: resolve_deep(template, values, value) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve_deep(template, values, item) for item in node]
    if isinstance(node, (bool, int, float)) or node is None:
        return node
    return resolve(template, values, node)


def generate(settings):
    """One secret string, as GenerateSecretString makes it."""
    excluded = set(settings.get('ExcludeCharacters', ''))
    alphabet = ''.join(c for c in PASSWORD_ALPHABET if c not in excluded)
    if settings.get('ExcludePunctuation'):
        alphabet = ''.join(c for c in alphabet if c not in string.punctuation)
    password = ''.join(secrets.choice(alphabet) for _ in range(int(settings.get('PasswordLength', 32))))
    if 'GenerateStringKey' in settings:
        document = json.loads(settings['SecretStringTemplate'])
        document[settings['GenerateStringKey']] = password
        return json.dumps(document)
    return password


def main(template_file, values_file, out_dir):
    template = json.load(open(template_file))
    values = json.load(open(values_file))
    resources = template['Resources']

    launch_templates = [name for name, r in resources.items() if r['Type'] == 'AWS::EC2::LaunchTemplate']
    if len(launch_templates) != 1:
        raise Unresolvable(f'expected one launch template, found {len(launch_templates)}')
    launch_template = resources[launch_templates[0]]
    user_data = resolve(template, values, launch_template['Properties']['LaunchTemplateData']['UserData'])
    with open(f'{out_dir}/user-data', 'w') as f:
        f.write(user_data)
    # The launch template's Metadata, as DescribeStackResource returns it (the boot files are in it).
    with open(f'{out_dir}/resources.json', 'w') as f:
        json.dump({values['stackName']: {launch_templates[0]: {
            'type': launch_template['Type'],
            'metadata': resolve_deep(template, values, launch_template.get('Metadata', {}))}}}, f)

    generated = {}
    for logical_id, resource in resources.items():
        if resource['Type'] == 'AWS::SecretsManager::Secret':
            generated[secret_arn(values, logical_id)] = generate(resource['Properties']['GenerateSecretString'])
    # Secrets attached to a database gain its host and port, as RDS's attachment does.
    for resource in resources.values():
        if resource['Type'] == 'AWS::SecretsManager::SecretTargetAttachment':
            arn = resolve(template, values, resource['Properties']['SecretId'])
            document = json.loads(generated[arn])
            document.update(host=values['writerHost'], port=int(values['dbPort']), engine='mysql', dbname='wordpress')
            generated[arn] = json.dumps(document)
    with open(f'{out_dir}/secrets.json', 'w') as f:
        json.dump(generated, f, indent=1)

    asgs = [name for name, r in resources.items() if r['Type'] == 'AWS::AutoScaling::AutoScalingGroup']
    # The load balancer's health check, for the lab's load balancer to check the same way.
    target_groups = [r['Properties'] for r in resources.values() if r['Type'] == 'AWS::ElasticLoadBalancingV2::TargetGroup']
    with open(f'{out_dir}/stack.json', 'w') as f:
        json.dump({'signalResource': asgs[0], 'bootResource': launch_templates[0], 'userDataBytes': len(user_data.encode()),
                   'healthCheckPath': target_groups[0]['HealthCheckPath'],
                   'healthCheckCodes': target_groups[0]['Matcher']['HttpCode']}, f)


if __name__ == '__main__':
    try:
        main(*sys.argv[1:4])
    except Unresolvable as e:
        sys.exit(f'cfn.py: {e}')
