import { App, Stack, StackProps } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { ScalableWordPress, ScalableWordPressProps } from '../src';

export interface Site {
  readonly app: App;
  readonly stack: Stack;
  readonly site: ScalableWordPress;
  readonly template: Template;
}

/** Synthesizes one site in an environment-agnostic stack, as users and the integ tests do. */
export function synth(props: ScalableWordPressProps = {}, stackProps: StackProps = {}): Site {
  const app = new App();
  const stack = new Stack(app, 'Test', stackProps);
  const site = new ScalableWordPress(stack, 'Site', props);
  return { app, stack, site, template: Template.fromStack(stack) };
}

/** Builds props inside a stack (for props that need a scope, such as a hosted zone), then synthesizes. */
export function synthWith(makeProps: (stack: Stack) => ScalableWordPressProps, stackProps: StackProps = {}): Site {
  const app = new App();
  const stack = new Stack(app, 'Test', stackProps);
  const site = new ScalableWordPress(stack, 'Site', makeProps(stack));
  return { app, stack, site, template: Template.fromStack(stack) };
}

export function zone(stack: Stack, zoneName = 'example.com'): route53.IHostedZone {
  return route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0000000EXAMPLE', zoneName });
}

/** The user data of the launch template, with CloudFormation tokens rendered as `${Token}` placeholders. */
export function userDataOf(template: Template): string {
  const lts = template.findResources('AWS::EC2::LaunchTemplate');
  const [lt] = Object.values(lts);
  const userData = lt.Properties.LaunchTemplateData.UserData['Fn::Base64'];
  return flattenJoin(userData);
}

/** Renders an Fn::Join as text, with references written as ${Ref:X} / ${GetAtt:X.Y} so tests can find them. */
export function flattenJoin(value: any): string {
  if (typeof value === 'string') {
    return value;
  }
  if (value['Fn::Join']) {
    const [sep, parts] = value['Fn::Join'];
    return parts.map(flattenJoin).join(sep);
  }
  if (value.Ref) {
    return `\${Ref:${value.Ref}}`;
  }
  if (value['Fn::GetAtt']) {
    return `\${GetAtt:${value['Fn::GetAtt'].join('.')}}`;
  }
  return `\${${JSON.stringify(value)}}`;
}
