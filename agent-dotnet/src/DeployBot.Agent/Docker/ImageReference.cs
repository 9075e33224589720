namespace DeployBot.Agent.Docker;

/// <summary>
/// An image reference split the way the Engine API's pull wants it:
/// <c>fromImage</c> (the repository, registry host included) and <c>tag</c> (a tag or a digest).
/// </summary>
public sealed record ImageReference(string Repository, string Tag)
{
    /// <summary>The reference as written, <c>repo:tag</c> or <c>repo@sha256:…</c>.</summary>
    public string FullName => Tag.Contains(':') ? $"{Repository}@{Tag}" : $"{Repository}:{Tag}";

    /// <summary>Splits <paramref name="image"/>; a missing tag means <c>latest</c>, as Docker does.</summary>
    /// <exception cref="FormatException">Empty, or characters Docker never allows in a reference.</exception>
    public static ImageReference Parse(string image)
    {
        if (string.IsNullOrWhiteSpace(image))
        {
            throw new FormatException("image is empty");
        }
        foreach (var c in image)
        {
            // The reference goes into a URL path; anything outside Docker's reference grammar is refused here.
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '/' or ':' or '@'))
            {
                throw new FormatException($"image \"{image}\" contains '{c}', which is not allowed in an image reference");
            }
        }

        var at = image.IndexOf('@');
        if (at >= 0)
        {
            var repository = image[..at];
            var digest = image[(at + 1)..];
            // A reference may carry both a tag and a digest (repo:tag@sha256:…); the digest wins.
            var tagColon = repository.LastIndexOf(':');
            if (tagColon > repository.LastIndexOf('/'))
            {
                repository = repository[..tagColon];
            }
            if (repository.Length == 0 || !digest.Contains(':'))
            {
                throw new FormatException($"image \"{image}\" has a malformed digest");
            }
            return new ImageReference(repository, digest);
        }

        // A colon after the last slash starts the tag; one before it is a registry port (127.0.0.1:5000/app).
        var colon = image.LastIndexOf(':');
        if (colon > image.LastIndexOf('/'))
        {
            var repository = image[..colon];
            var tag = image[(colon + 1)..];
            if (repository.Length == 0 || tag.Length == 0)
            {
                throw new FormatException($"image \"{image}\" has an empty name or tag");
            }
            return new ImageReference(repository, tag);
        }
        return new ImageReference(image, "latest");
    }

    public override string ToString() => FullName;
}
