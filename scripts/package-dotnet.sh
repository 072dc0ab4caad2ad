#!/usr/bin/env bash
# .NET package. No .NET SDK can be installed on our CI machines (not in Debian, not on npm): without
# `dotnet`, generate the C# project and check it is there; with it (the release workflow), build the nupkg.
set -euo pipefail
if command -v dotnet >/dev/null; then
  jsii-pacmak -v --target dotnet
else
  echo 'package:dotnet: no dotnet SDK here, generating the C# code only'
  jsii-pacmak -v --target dotnet --code-only
  test -s dist/dotnet/CdkScalableWordPress/CdkScalableWordPress/ScalableWordPress.cs
fi
