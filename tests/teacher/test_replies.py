"""Reply bodies in OpenAI's shape: read without raising, usage kept."""

from baldistill.teacher import Usage, openai_body, parse_body


def test_parse_body():
    r = parse_body(openai_body("hi", Usage(3, 1)))
    assert r.text == "hi" and r.usage.prompt_tokens == 3 and r.error is None
    assert parse_body("{not json").error.startswith("malformed") and parse_body('{"choices": []}').text is None
    c = parse_body(openai_body("go on", Usage(2, 2, estimated=True), "completions"))
    assert c.text == "go on" and c.usage.estimated
    reasoning = parse_body(
        '{"choices": [{"message": {"content": "x"}, "finish_reason": "length"}], "usage": '
        '{"prompt_tokens": 5, "completion_tokens": 9, "completion_tokens_details": {"reasoning_tokens": 7}}}'
    )
    assert reasoning.finish_reason == "length" and reasoning.usage.reasoning_tokens == 7
    assert parse_body("[1]").error == "response is not a JSON object"
    assert parse_body('{"choices": [{"message": {}}]}').error == "no content in the first choice"
