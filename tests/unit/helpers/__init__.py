"""What several unit test modules share: a scripted provider, tokens, WebSocket frames,
presenter events, tool calls and Log builders. Not tests themselves."""

MODEL = "gpt-5.5"
