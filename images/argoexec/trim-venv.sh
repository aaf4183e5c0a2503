#!/bin/sh
# Trim the executor's virtual environment (argument 1) before the Dockerfile copies it into the
# image. Only what `argoexec` never uses at run time goes:
#  - pip and setuptools (nothing is installed into the image later);
#  - symbol tables of the compiled extensions (strip --strip-unneeded);
#  - the test suites some packages ship inside themselves (croniter, gitdb, smmap, certifi);
#  - botocore's models of the ~450 AWS services it knows, but those botocore's S3 client and the
#    credential chain load: s3, sts (AssumeRole, web identity), sso and sso-oidc (SSO profiles),
#    signin (`aws login` profiles), plus the shared files directly in data/ (endpoints, partitions,
#    retry and default configuration). tests/podman/test_executor_image.py checks an S3 put and get
#    through the image.
# Bytecode stays: the image runs with a read-only root, where Python cannot cache what it compiles.
set -eu
venv=${1:?usage: trim-venv.sh VENV}
"$venv/bin/python" -m pip uninstall -q -y pip setuptools

for site in "$venv"/lib/python3*/site-packages; do
    rm -rf "$site"/*/test "$site"/*/tests
    for service in "$site"/botocore/data/*/; do
        case $(basename "$service") in
            s3 | sts | sso | sso-oidc | signin) ;;
            *) rm -rf "$service" ;;
        esac
    done
done

# Symbol tables and debug sections of the compiled extensions (cryptography's alone: 3 MB).
find "$venv" -name '*.so*' -type f -exec strip --strip-unneeded {} +
