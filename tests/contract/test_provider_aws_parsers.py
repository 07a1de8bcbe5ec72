"""The lighter ListStackInstances parser (providers/aws/parsers.py) gives botocore's own output, dict for dict, for
every field of a StackInstanceSummary as botocore's model defines it; other responses are botocore's parsing."""

from __future__ import annotations

from typing import Any

import botocore.session
from botocore.parsers import QueryParser

from reconciler.providers.aws.parsers import FastQueryParser
from reconciler.providers.aws.session import make_client, make_session

NS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
ROW = """<member>
  <StackSetId>clumio-org:0d5c</StackSetId><Region>{region}</Region><Account>{account}</Account>
  <StackId>arn:aws:cloudformation:{region}:{account}:stack/StackSet-clumio-org-1/1</StackId>
  <Status>OUTDATED</Status><StatusReason>{reason}</StatusReason>
  <StackInstanceStatus><DetailedStatus>SKIPPED_SUSPENDED_ACCOUNT</DetailedStatus></StackInstanceStatus>
  <OrganizationalUnitId>ou-ab12-34cd56ef</OrganizationalUnitId><DriftStatus>IN_SYNC</DriftStatus>
  <LastDriftCheckTimestamp>2026-11-27T09:00:00.123Z</LastDriftCheckTimestamp>
  <LastOperationId>clumio-org-00000000000000cc-001</LastOperationId>
</member>"""


def _response(rows: str, token: str = "<NextToken>page-2</NextToken>") -> dict[str, Any]:
    body = (f'<ListStackInstancesResponse xmlns="{NS}"><ListStackInstancesResult><Summaries>{rows}</Summaries>'
            f"{token}</ListStackInstancesResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>"
            "</ListStackInstancesResponse>")
    return {"body": body.encode(), "headers": {}, "status_code": 200}


def _shape(operation: str) -> Any:
    model = botocore.session.get_session().get_service_model("cloudformation")
    return model.operation_model(operation).output_shape


def test_list_stack_instances_parses_exactly_as_botocore() -> None:
    rows = "".join(ROW.format(region=r, account=a, reason=reason)
                   for a in ("111111111111", "222222222222") for r in ("us-east-1", "eu-west-1")
                   for reason in ("Account is suspended", ""))
    response = _response(rows + "<member><Account>333333333333</Account><Region>us-east-1</Region></member>")
    expected = QueryParser().parse(response, _shape("ListStackInstances"))
    assert FastQueryParser().parse(response, _shape("ListStackInstances")) == expected
    first = expected["Summaries"][0]
    assert first["StatusReason"] == "Account is suspended" and expected["Summaries"][1]["StatusReason"] == ""
    assert first["StackInstanceStatus"] == {"DetailedStatus": "SKIPPED_SUSPENDED_ACCOUNT"}
    assert first["LastDriftCheckTimestamp"].year == 2026 and expected["NextToken"] == "page-2"
    assert expected["ResponseMetadata"]["RequestId"] == "r-1"


def test_elements_the_model_does_not_name_parse_exactly_as_botocore() -> None:
    """A field AWS added after this botocore is skipped, row after row, page after page (the parser learns each tag
    it meets once)."""
    rows = "".join(ROW.format(region=r, account="111111111111", reason="x").replace(
        "<Status>", "<NewerField>v</NewerField><Status>") for r in ("us-east-1", "eu-west-1"))
    parser = FastQueryParser()
    for _ in range(2):
        response = _response(rows)
        expected = QueryParser().parse(response, _shape("ListStackInstances"))
        assert parser.parse(response, _shape("ListStackInstances")) == expected
    assert [r["Region"] for r in expected["Summaries"]] == ["us-east-1", "eu-west-1"]


def test_a_repeated_element_is_left_to_botocore() -> None:
    """botocore gathers an element that repeats into a list (of elements: its own odd output); so does this parser,
    by handing that structure to botocore's code."""
    row = ROW.format(region="eu-west-1", account="222222222222", reason="y").replace(
        "<Region>", "<Region>us-east-1</Region><Region>")
    response = _response(row)
    expected = QueryParser().parse(response, _shape("ListStackInstances"))["Summaries"][0]
    parsed = FastQueryParser().parse(response, _shape("ListStackInstances"))["Summaries"][0]
    assert [e.text for e in parsed["Region"]] == [e.text for e in expected["Region"]] == ["us-east-1", "eu-west-1"]
    assert {k: v for k, v in parsed.items() if k != "Region"} == {k: v for k, v in expected.items() if k != "Region"}


def test_an_empty_last_page_parses_exactly_as_botocore() -> None:
    response = _response("", token="")
    parsed = FastQueryParser().parse(response, _shape("ListStackInstances"))
    assert parsed == QueryParser().parse(response, _shape("ListStackInstances"))
    assert parsed["Summaries"] == [] and "NextToken" not in parsed


def test_clients_of_our_sessions_use_it(monkeypatch: Any) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    cfn = make_client(make_session("us-east-1", None), "cloudformation")
    factory = cfn._endpoint._response_parser_factory
    assert isinstance(factory.create_parser("query"), FastQueryParser)
    assert not isinstance(factory.create_parser("json"), FastQueryParser)
