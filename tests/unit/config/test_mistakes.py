"""A table of realistic mistakes in desired-state files: each is reported at its line and column, with a message a
tired engineer understands, and never as a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.core.errors import ConfigError
from reconciler.files.config import load_desired, validate_file
from tests.unit.config.helpers import VALID, split_mark, variant, write

ENV = {"HOME_REGION": "us-east-1"}

WAVES = """\
rollout:
  waves:
    - name: canary
      accounts: ["222222222222"]
    - name: prod
      ous: [/Workloads/Prod]
"""

# (case id, marked YAML text, a fragment the message must contain, a fragment the hint must contain or None)
MISTAKES: list[tuple[str, str, str, str | None]] = [
    (
        "account id one digit short",
        variant(('management_account: "111111111111"', 'management_account: «"11111111111"')),
        'organization.management_account: "11111111111" is not an AWS account id (exactly 12 digits)',
        "quote account ids",
    ),
    (
        "account id not quoted",
        variant(('management_account: "111111111111"', "management_account: «011111111111")),
        "must be a quoted string; YAML reads 011111111111 as a number",
        "quote",
    ),
    (
        "organization id too short",
        variant(("id: o-a1b2c3d4e5", "id: «o-a1b2")),
        '"o-a1b2" is not an AWS Organization id',
        None,
    ),
    (
        "ou- prefix typed as uo-",
        variant(("  organization: true\n", "  ous: [«uo-ab12-cd34ef56]\n")),
        '"uo-ab12-cd34ef56" is not an OU id (ou-xxxx-xxxxxxxx), a root id (r-xxxx) or an OU path',
        "OU ids look like",
    ),
    (
        "OU id in upper case",
        variant(("  organization: true\n", "  ous: [«OU-AB12-CD34EF56]\n")),
        "is not an OU id",
        None,
    ),
    (
        "unknown region",
        variant(("regions: [us-east-1, us-west-2]", "regions: [us-east-1, «eu-wset-1]")),
        'regions[1]: unknown AWS region "eu-wset-1"',
        "did you mean eu-west-1?",
    ),
    (
        "home region misspelt",
        variant(("home_region: us-east-1", "home_region: «us-esat-1")),
        'organization.home_region: unknown AWS region "us-esat-1"',
        "did you mean",
    ),
    (
        "regions from two partitions",
        variant(("regions: [us-east-1, us-west-2]", "regions: [us-east-1, «cn-north-1]")),
        'region "cn-north-1" is in partition aws-cn',
        "one partition",
    ),
    (
        "region name with a capital letter",
        variant(("regions: [us-east-1, us-west-2]", "regions: [«US-EAST-1]")),
        'regions[0]: "US-EAST-1" is not an AWS region name',
        "us-east-1",
    ),
    (
        "no regions",
        variant(("regions: [us-east-1, us-west-2]", "regions: «[]")),
        "regions: is empty: list at least one AWS region",
        None,
    ),
    (
        "region listed twice",
        variant(("regions: [us-east-1, us-west-2]", "regions: «[us-east-1, us-east-1]")),
        "regions: lists the same region twice",
        None,
    ),
    (
        "unknown asset type",
        variant(("  portal: west\n", "  portal: west\n  asset_types: [EC2/EBS, «Dynamo, S3]\n")),
        'clumio.asset_types[1]: "Dynamo" is not a Clumio asset type',
        "did you mean DynamoDB?",
    ),
    (
        "EC2MSSQL without EC2/EBS",
        variant(("  portal: west\n", "  portal: west\n  asset_types: [RDS, «EC2MSSQL]\n")),
        "clumio.asset_types: EC2MSSQL requires EC2/EBS",
        "add EC2/EBS",
    ),
    (
        "literal API token",
        variant(("  portal: west\n", "  portal: west\n  «api_token: abc\n")),
        "clumio.api_token: a literal API token must not be written in the file",
        "token_env",
    ),
    (
        "token pasted into token_env",
        variant(
            ("  portal: west\n", "  portal: west\n  token_env: «eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4eXoifQ.c2lnbmF0dXJl\n")
        ),
        "must be the name of an environment variable",
        None,
    ),
    (
        "unknown portal",
        variant(("portal: west", "portal: «western")),
        'clumio.portal: "western" is not a Clumio portal',
        "did you mean west?",
    ),
    (
        "api_url and portal both given",
        variant(("  portal: west\n", "  «portal: west\n  api_url: https://us-west-2.api.clumio.com\n")),
        "clumio: give api_url or portal, not both",
        None,
    ),
    (
        "template version not quoted",
        variant(("  portal: west\n", "  portal: west\n  template_version: «24.4\n")),
        "clumio.template_version: must be a quoted string; YAML reads 24.4 as a number",
        '"24.4"',
    ),
    (
        "missing environment variable",
        variant(
            ("home_region: us-east-1", "home_region: ${env:HOME_REGION}"),
            ("  portal: west", "  api_url: «${env:CLUMIO_URL}"),
        ),
        "environment variable CLUMIO_URL is not set (referenced as ${env:CLUMIO_URL})",
        "export CLUMIO_URL=",
    ),
    (
        "unsupported interpolation",
        variant(("  portal: west\n", "  portal: west\n  token_env: «${CLUMIO_TOKEN_VAR}\n")),
        "unsupported reference ${CLUMIO_TOKEN_VAR}: only ${env:NAME} is understood",
        None,
    ),
    (
        "tab indentation",
        variant(("  home_region: us-east-1", "«\thome_region: us-east-1")),
        "tab character in indentation",
        "spaces",
    ),
    (
        "duplicate key",
        variant(append="«regions: [eu-west-1]\n"),
        'duplicate key "regions" (first written at line 10)',
        None,
    ),
    (
        "misspelt key",
        variant(append="stack_set:\n  «permission_boundary_arn: arn:aws:iam::111111111111:policy/b\n"),
        'stack_set: unknown key "permission_boundary_arn"',
        "did you mean permissions_boundary_arn?",
    ),
    (
        "KMS key given with create true",
        variant(
            append="stack_set:\n  inventory_topic_key:\n    create: true\n"
            "    «arn: arn:aws:kms:us-east-1:111111111111:key/0a1b2c3d-aaaa-bbbb-cccc-123456789012\n"
        ),
        "an existing key arn is given while create is true",
        "not both",
    ),
    (
        "permissions boundary is a role ARN",
        variant(append="stack_set:\n  permissions_boundary_arn: «arn:aws:iam::111111111111:role/boundary\n"),
        "is not an IAM policy ARN",
        None,
    ),
    (
        "StackSet name with an underscore",
        variant(append="stack_set:\n  name: «clumio_org\n"),
        '"clumio_org" is not a valid StackSet name',
        None,
    ),
    (
        "retain stacks with auto-deployment off",
        variant(
            append="stack_set:\n  auto_deployment:\n    enabled: false\n    «retain_stacks_on_account_removal: true\n"
        ),
        "retain_stacks_on_account_removal only applies when enabled is true",
        None,
    ),
    (
        "tag key in the aws: namespace",
        variant(append="stack_set:\n  tags:\n    «aws:owner: me\n"),
        '"aws:owner" is not a valid tag key',
        None,
    ),
    (
        "count and percent both given",
        variant(
            append=WAVES.replace(
                '      accounts: ["222222222222"]\n',
                "      sample: 1\n      max_concurrent: «{count: 2, percent: 10}\n",
            )
        ),
        "rollout.waves[0].max_concurrent: give count or percent, not both",
        None,
    ),
    (
        "negative failure tolerance",
        variant(
            append=WAVES.replace(
                '      accounts: ["222222222222"]\n', "      sample: 1\n      failure_tolerance: «-1\n"
            )
        ),
        "rollout.waves[0].failure_tolerance: must be 0 or more",
        None,
    ),
    (
        "percentage over 100",
        variant(
            append=WAVES.replace(
                '      accounts: ["222222222222"]\n', '      sample: 1\n      max_concurrent: «"150%"\n'
            )
        ),
        '"150%" is not a percentage from 1% to 100%',
        None,
    ),
    (
        "zero max concurrent",
        variant(
            append=WAVES.replace('      accounts: ["222222222222"]\n', "      sample: 1\n      max_concurrent: «0\n")
        ),
        "rollout.waves[0].max_concurrent: must be at least 1",
        None,
    ),
    (
        "a wave that selects nothing",
        variant(
            append=WAVES.replace('      accounts: ["222222222222"]\n', "      max_concurrent: 1\n").replace(
                "    - name: canary", "    - «name: canary"
            )
        ),
        'wave "canary" selects no account',
        "sample: 2",
    ),
    (
        "management account as a target",
        variant(("  organization: true\n", '  accounts: [«"111111111111"]\n')),
        'targets.accounts[0]: "111111111111" is the management account',
        "management_account.onboard: true",
    ),
    (
        "management account in a wave",
        variant(append=WAVES.replace('accounts: ["222222222222"]', 'accounts: [«"111111111111"]')),
        'wave "canary": "111111111111" is the management account',
        "self-managed StackSet",
    ),
    (
        "account both targeted and excluded",
        variant(
            ("  organization: true\n", '  accounts: ["222222222222"]\n  exclude:\n    accounts: [«"222222222222"]\n')
        ),
        'account "222222222222" is both targeted and excluded',
        None,
    ),
    (
        "wave account excluded",
        variant(
            ("  organization: true\n", '  organization: true\n  exclude:\n    accounts: ["222222222222"]\n'),
            append=WAVES.replace('accounts: ["222222222222"]', 'accounts: [«"222222222222"]'),
        ),
        'wave "canary": account "222222222222" is excluded',
        None,
    ),
    (
        "wave OU inside an excluded OU",
        variant(
            ("  organization: true\n", "  organization: true\n  exclude:\n    ous: [/Workloads]\n"),
            append=WAVES.replace("ous: [/Workloads/Prod]", "ous: [«/Workloads/Prod]"),
        ),
        'wave "prod": OU "/Workloads/Prod" is excluded (by "/Workloads"',
        None,
    ),
    (
        "wave account not among account-only targets",
        variant(
            ("  organization: true\n", '  accounts: ["333333333333"]\n'),
            append=WAVES.replace('accounts: ["222222222222"]', 'accounts: [«"222222222222"]').replace(
                "      ous: [/Workloads/Prod]\n", "      rest: true\n"
            ),
        ),
        'wave "canary": account "222222222222" is not among the targets',
        "targets.accounts",
    ),
    (
        "wave OU outside the targeted OUs",
        variant(
            ("  organization: true\n", "  ous: [/Shared]\n"),
            append=WAVES.replace("ous: [/Workloads/Prod]", "ous: [«/Workloads/Prod]"),
        ),
        'wave "prod": OU "/Workloads/Prod" is not inside any targeted OU',
        "/Shared",
    ),
    (
        "overlapping waves by account",
        variant(append=WAVES.replace("      ous: [/Workloads/Prod]\n", '      accounts: [«"222222222222"]\n')),
        'account "222222222222" is already in wave "canary"',
        "overlap",
    ),
    (
        "overlapping waves by nested OU",
        variant(
            append=WAVES.replace('      accounts: ["222222222222"]\n', "      ous: [/Workloads]\n").replace(
                "ous: [/Workloads/Prod]", "ous: [«/Workloads/Prod]"
            )
        ),
        'OU "/Workloads/Prod" is already taken by wave "canary"',
        "narrower OU in the earlier wave",
    ),
    (
        "rest wave not last",
        variant(append=WAVES.replace('      accounts: ["222222222222"]\n', "      «rest: true\n")),
        'wave "canary" takes the rest of the accounts but is not the last wave',
        None,
    ),
    (
        "wave name used twice",
        variant(append=WAVES.replace("    - name: prod", "    - name: «canary")),
        'wave name "canary" is used twice',
        None,
    ),
    (
        "region order names a region not deployed",
        variant(append="rollout:\n  region_concurrency: sequential\n  region_order: [us-east-1, «eu-west-1]\n"),
        'rollout.region_order[1]: "eu-west-1" is not in regions',
        None,
    ),
    (
        "concurrency mode misspelt",
        variant(
            append=WAVES.replace(
                '      accounts: ["222222222222"]\n', "      sample: 1\n      concurrency_mode: «strcit\n"
            )
        ),
        'rollout.waves[0].concurrency_mode: "strcit" is not one of strict, soft',
        "did you mean strict?",
    ),
    (
        "S3 state without a bucket",
        variant(append="«state:\n  backend: s3\n  key: clumio-org/state.json\n"),
        "state: missing required key bucket",
        "backend s3 needs bucket and key",
    ),
    (
        "local state given a bucket",
        variant(append="state:\n  path: state.json\n  «bucket: my-bucket\n"),
        "state.bucket only applies to backend s3",
        None,
    ),
    (
        "management StackSet named like the org StackSet",
        variant(append="management_account:\n  onboard: true\n  stack_set_name: «clumio-org\n"),
        "is also the name of the organization StackSet",
        None,
    ),
    (
        "missing home region",
        variant(("  home_region: us-east-1\n", "")).replace("«", "").replace("organization:", "«organization:"),
        "organization: missing required key home_region",
        None,
    ),
    (
        "wrong format version",
        variant(("version: 1", "version: «2")),
        "version: must be 1",
        None,
    ),
    (
        "targets select nothing",
        variant(("  organization: true\n", "  organization: false\n")).replace("targets:", "«targets:"),
        "targets selects no account",
        "organization: true",
    ),
    (
        "sample combined with an OU",
        variant(append=WAVES.replace('      accounts: ["222222222222"]\n', "      ous: [/Canary]\n      «sample: 1\n")),
        'wave "canary": sample cannot be combined with accounts or ous',
        "list the accounts by id",
    ),
    (
        "top-level key misspelt",
        variant(append="«region: [eu-west-1]\n"),
        'unknown top-level key "region"',
        "did you mean regions?",
    ),
    (
        "clumio API not said",
        variant(("  portal: west\n", "  token_env: CLUMIO_API_TOKEN\n")).replace("clumio:", "«clumio:"),
        "clumio: say which Clumio API to use with api_url or portal",
        "portal: west",
    ),
    (
        "api_url without a scheme",
        variant(("  portal: west\n", "  api_url: «us-west-2.api.clumio.com\n")),
        'clumio.api_url: "us-west-2.api.clumio.com" is not an http(s) URL',
        None,
    ),
    (
        "existing connections neither left nor moved",
        variant(("  organization: true\n", "  organization: true\n  existing_connections: «adopt\n")),
        'targets.existing_connections: "adopt" is not leave or move',
        None,
    ),
    (
        "value with colon not quoted",
        variant(append="stack_set:\n  description: Clumio«: backup\n"),
        "YAML syntax error: mapping values are not allowed",
        "quoted",
    ),
]


@pytest.mark.parametrize(("text", "message", "hint"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_mistake_is_reported_at_its_line_and_column(tmp_path: Path, text: str, message: str, hint: str | None) -> None:
    clean, line, column = split_mark(text)
    path = write(tmp_path, clean)
    diagnostics = validate_file(path, env=ENV)
    matching = [d for d in diagnostics if message in d.message]
    assert matching, f"no diagnostic contains {message!r}; got:\n" + "\n".join(d.render() for d in diagnostics)
    found = matching[0]
    assert (found.line, found.column) == (line, column), found.render()
    assert found.path == str(path)
    if hint is not None:
        assert found.hint is not None and hint in found.hint, found.render()


def test_the_table_holds_at_least_thirty_distinct_mistakes() -> None:
    assert len({m[0] for m in MISTAKES}) == len(MISTAKES) >= 30


@pytest.mark.parametrize("text", [m[1] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_loading_a_mistake_raises_config_error_listing_it(tmp_path: Path, text: str) -> None:
    clean, _, _ = split_mark(text)
    path = write(tmp_path, clean)
    with pytest.raises(ConfigError) as raised:
        load_desired(path, env=ENV)
    assert raised.value.diagnostics
    assert str(path) in raised.value.message


def test_all_problems_are_reported_at_once_sorted_by_position(tmp_path: Path) -> None:
    text = variant(
        ("id: o-a1b2c3d4e5", "id: o-x"),
        ("regions: [us-east-1, us-west-2]", "regions: [us-east-1, eu-wset-1]"),
        ("portal: west", "portal: wets"),
    )
    diagnostics = validate_file(write(tmp_path, text), env=ENV)
    assert [d.line for d in diagnostics] == [3, 7, 10]
    assert diagnostics == sorted(diagnostics, key=lambda d: (d.line or 0, d.column or 0))


def test_a_missing_environment_variable_is_not_reported_twice(tmp_path: Path) -> None:
    text = variant(("home_region: us-east-1", "home_region: ${env:NOT_SET_ANYWHERE}"))
    diagnostics = validate_file(write(tmp_path, text), env={})
    assert [d.message for d in diagnostics] == [
        "environment variable NOT_SET_ANYWHERE is not set (referenced as ${env:NOT_SET_ANYWHERE})"
    ]


def test_a_literal_token_value_is_never_echoed(tmp_path: Path) -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4eXoifQ.c2lnbmF0dXJlc2VjcmV0"
    for key in ("api_token", "token", "token_env", "description", "api_url", "portal", "template_version"):
        text = variant(("  portal: west\n", f"  portal: west\n  {key}: {token}\n"))
        diagnostics = validate_file(write(tmp_path, text), env={})
        assert diagnostics, key
        assert all(token not in d.render() for d in diagnostics), key


def test_a_missing_file_is_one_whole_file_diagnostic(tmp_path: Path) -> None:
    diagnostics = validate_file(tmp_path / "nope.yaml")
    assert [(d.line, d.message) for d in diagnostics] == [(None, "file not found")]


def test_an_empty_file_says_so(tmp_path: Path) -> None:
    diagnostics = validate_file(write(tmp_path, "# nothing yet\n"))
    assert [d.message for d in diagnostics] == ["the file is empty"]


def test_a_list_at_the_top_is_not_a_desired_state(tmp_path: Path) -> None:
    diagnostics = validate_file(write(tmp_path, "- a\n- b\n"))
    assert [d.line for d in diagnostics] == [1]
    assert "must be a mapping" in diagnostics[0].message


def test_recursive_aliases_are_refused_not_followed(tmp_path: Path) -> None:
    diagnostics = validate_file(write(tmp_path, VALID + "rollout: &loop\n  waves: [*loop]\n"))
    assert any("YAML alias refers to itself" in d.message for d in diagnostics)
