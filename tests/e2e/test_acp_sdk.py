"""`pixir acp` driven by a real ACP client, the Python SDK (docs/acp.md): every answer and
update must parse as the schema's types."""

from __future__ import annotations

import pytest
from acp import RequestError
from acp.schema import ClientCapabilities, InitializeResponse

from tests.acp_client import run_agent, strict
from tests.acp_driver import AcpDriver

pytestmark = pytest.mark.e2e


def test_initialize_and_authenticate_through_the_sdk(pixir):
    async def scenario(agent):
        init = await agent.conn.initialize(
            protocol_version=1,
            client_capabilities=ClientCapabilities(auth={"terminal": True}),
        )
        with pytest.raises(RequestError) as info:
            await agent.conn.authenticate(method_id="openai-api-key")
        return init, info.value

    init, refused = run_agent(pixir, scenario)
    assert init.protocol_version == 1
    assert init.agent_info.name == "pixir"
    assert [m.id for m in init.auth_methods] == ["pixir-login", "openai-api-key"]
    assert init.auth_methods[0].type == "terminal"
    assert init.field_meta["pixir"]["auth"] == {"authenticated": False}
    assert refused.code == -32000 and "OPENAI_API_KEY" in refused.data["hint"]


def test_the_initialize_answer_fits_the_schema_strictly(pixir):
    with AcpDriver.start(pixir) as agent:
        answer = agent.initialize(clientCapabilities={"auth": {"terminal": True}})
    strict(InitializeResponse, answer)
