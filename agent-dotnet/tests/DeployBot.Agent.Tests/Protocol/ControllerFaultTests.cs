using DeployBot.Agent.Protocol;

namespace DeployBot.Agent.Tests.Protocol;

public sealed class ControllerFaultTests
{
    [Theory]
    [InlineData(200, null)]
    [InlineData(204, null)]
    [InlineData(400, ControllerFault.Rejected)]
    [InlineData(401, ControllerFault.Unauthorized)]
    [InlineData(403, ControllerFault.Forbidden)]
    [InlineData(404, ControllerFault.NotFound)]
    [InlineData(409, ControllerFault.Stale)]
    [InlineData(422, ControllerFault.Rejected)]
    [InlineData(429, ControllerFault.Busy)]
    [InlineData(500, ControllerFault.Busy)]
    [InlineData(503, ControllerFault.Busy)]
    public void Each_status_maps_to_what_the_protocol_says_to_do(int status, ControllerFault? expected) =>
        Assert.Equal(expected, ControllerFaults.FromStatus(status));

    [Theory]
    [InlineData(ControllerFault.Unreachable, true, false)]
    [InlineData(ControllerFault.Busy, true, false)]
    [InlineData(ControllerFault.Unauthorized, false, false)]
    [InlineData(ControllerFault.Revoked, false, true)]
    [InlineData(ControllerFault.Forbidden, false, true)]
    [InlineData(ControllerFault.NotFound, false, true)]
    [InlineData(ControllerFault.Stale, false, true)]
    [InlineData(ControllerFault.Rejected, false, false)]
    public void Only_an_absent_or_busy_controller_is_retried(ControllerFault fault, bool retriable, bool losesJob)
    {
        Assert.Equal(retriable, fault.IsRetriable());
        Assert.Equal(losesJob, fault.LosesJob());
    }

    [Theory]
    [InlineData(ControllerFault.Unauthorized, "agent_revoked", ControllerFault.Revoked)]
    [InlineData(ControllerFault.Unauthorized, "unauthorized", ControllerFault.Unauthorized)]
    [InlineData(ControllerFault.Unauthorized, null, ControllerFault.Unauthorized)]
    [InlineData(ControllerFault.Forbidden, "agent_revoked", ControllerFault.Forbidden)]
    public void Only_a_401_that_says_agent_revoked_is_a_revocation(ControllerFault fault, string? code, ControllerFault expected) =>
        Assert.Equal(expected, ControllerFaults.Refine(fault, code));
}
