using DeployBot.Agent.Deploy;
using DeployBot.Agent.Docker;

namespace DeployBot.Agent.Tests.Docker;

public sealed class ContainerCreateBodyTests
{
    [Fact]
    public void The_body_carries_image_sorted_env_labels_and_grouped_port_bindings()
    {
        // Arrange
        var job = new DeployJob
        {
            JobId = "01JOB",
            App = "web",
            Sha = "6113728f",
            Deploy = new DeploySpec
            {
                Image = "127.0.0.1:5000/acme/web:6113728",
                Container = "web",
                Ports = ["8080:80", "127.0.0.1:8443:443", "127.0.0.1:9080:80", "5353:53/udp"],
                Env = new Dictionary<string, string> { ["Z_LAST"] = "z", ["APP_ENV"] = "production", ["EMPTY"] = "" },
            },
        };

        // Act
        var json = ContainerCreateBody.Build(job).ToJsonString();

        // Assert
        Assert.Equal(
            """
            {"Image":"127.0.0.1:5000/acme/web:6113728",
            "Env":["APP_ENV=production","EMPTY=","Z_LAST=z"],
            "Labels":{"deploybot.app":"web","deploybot.sha":"6113728f","deploybot.job":"01JOB"},
            "ExposedPorts":{"80/tcp":{},"443/tcp":{},"53/udp":{}},
            "HostConfig":{"PortBindings":{
            "80/tcp":[{"HostIp":"","HostPort":"8080"},{"HostIp":"127.0.0.1","HostPort":"9080"}],
            "443/tcp":[{"HostIp":"127.0.0.1","HostPort":"8443"}],
            "53/udp":[{"HostIp":"","HostPort":"5353"}]},
            "RestartPolicy":{"Name":"unless-stopped"}}}
            """.Replace("\n", ""),
            json);
    }

    [Fact]
    public void An_image_without_a_tag_is_created_as_latest_and_no_ports_means_empty_maps()
    {
        // Arrange
        var job = new DeployJob { JobId = "j", App = "a", Sha = "s", Deploy = new DeploySpec { Image = "nginx", Container = "a" } };

        // Act
        var body = ContainerCreateBody.Build(job);

        // Assert
        Assert.Equal("nginx:latest", body["Image"]!.GetValue<string>());
        Assert.Equal("{}", body["ExposedPorts"]!.ToJsonString());
        Assert.Equal("{}", body["HostConfig"]!["PortBindings"]!.ToJsonString());
        Assert.Equal("[]", body["Env"]!.ToJsonString());
    }
}
