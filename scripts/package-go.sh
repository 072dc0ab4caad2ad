#!/usr/bin/env bash
# Go module. jsii-pacmak generates it and compiles it against aws-cdk-go. GO_CODE_ONLY=true skips the
# compile: CI's Go module proxy refuses a module aws-cdk-go v2.257.0 needs
# (cloud-assembly-schema-go v53.28.0), so there the module is generated and checked, not compiled.
set -euo pipefail
if [ "${GO_CODE_ONLY:-}" = true ]; then
  echo 'package:go: GO_CODE_ONLY=true, generating the Go module only'
  jsii-pacmak -v --target go --code-only
  test -s dist/go/cdkscalablewordpress/ScalableWordPress.go
else
  jsii-pacmak -v --target go
fi
