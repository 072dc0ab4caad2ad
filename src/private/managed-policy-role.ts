import * as iam from 'aws-cdk-lib/aws-iam';

/**
 * A role whose granted permissions go to one customer managed policy of its own, rather than to an inline
 * default policy: a managed policy keeps its last five versions, so a change to the role's permissions can be
 * reviewed and rolled back, and compliance packs (HIPAA Security and NIST 800-53 `IAMNoInlinePolicy`) ask for it.
 * The policy names the role (as an inline policy does), so resources that the policy names may name the role.
 */
export class ManagedPolicyRole extends iam.Role {
  private permissions?: iam.ManagedPolicy;

  public addToPrincipalPolicy(statement: iam.PolicyStatement): iam.AddToPrincipalPolicyResult {
    // A managed policy holds 6,144 characters: this role's statements take about a third of that.
    this.permissions ??= new iam.ManagedPolicy(this, 'Permissions', { roles: [this] });
    this.permissions.addStatements(statement);
    return { statementAdded: true, policyDependable: this.permissions };
  }
}
