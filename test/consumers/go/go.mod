module example.com/wordpress-consumer

go 1.25

require (
	github.com/aws/aws-cdk-go/awscdk/v2 v2.276.0
	github.com/aws/constructs-go/constructs/v10 v10.5.1
	github.com/aws/jsii-runtime-go v1.140.0
	github.com/cdk-scalable-wordpress/cdk-scalable-wordpress-go/cdkscalablewordpress v0.0.0
)

// The freshly generated module (dist/go), not a published one.
replace github.com/cdk-scalable-wordpress/cdk-scalable-wordpress-go/cdkscalablewordpress => ../../../dist/go/cdkscalablewordpress
