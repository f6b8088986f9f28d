using TvmBackupUtils.Tests.Infrastructure;
using Xunit;
using Xunit.Sdk;

namespace TvmBackupUtils.Tests;

/// <summary>New-TvmImportJson / Generate-ImportJsonFromPEM: the NO_KEY_WRAP file of docs/format.md section 3, byte for byte.</summary>
public sealed class ImportJsonTests
{
    private static string Vector(string name)
    {
        var path = Path.Combine(Repo.Vectors, name);
        if (!File.Exists(path))
            throw new XunitException($"Test vector {path} is missing (tests/vectors/ is made by the vectors script).");
        return path;
    }

    private static string Hex(byte[] b) => Convert.ToHexString(b);

    private static void AssertSameBytes(byte[] expected, string actualFile, PsResult run)
    {
        Assert.True(File.Exists(actualFile), $"{actualFile} was not written.\n" + run.Describe());
        var actual = File.ReadAllBytes(actualFile);
        if (!expected.SequenceEqual(actual))
            throw new XunitException(
                $"{Path.GetFileName(actualFile)} differs from the expected bytes.\nexpected: {System.Text.Encoding.Latin1.GetString(expected)}\n" +
                $"actual:   {System.Text.Encoding.Latin1.GetString(actual)}\nexpected hex tail: {Hex(expected[^Math.Min(8, expected.Length)..])} " +
                $"actual hex tail: {Hex(actual[^Math.Min(8, actual.Length)..])}");
    }

    [Theory]
    [InlineData("Generate-ImportJsonFromPEM $pub $priv $out")]
    [InlineData("New-TvmImportJson -PublicKeyPath $pub -PrivateKeyPath $priv -OutFilePath $out")]
    public void Vectors_OutputEqualsImportExpectedJson(string script)
    {
        var expected = File.ReadAllBytes(Vector("import_expected.json"));
        using var s = new TvmSession();
        s.Set("pub", Vector("wrapping_public_pkcs1.pem"));
        s.Set("priv", Vector("wrapping_private_pkcs8.pem"));
        var outFile = s.P("import.json");
        s.Set("out", outFile);
        var r = s.Run(script).AssertClean();
        AssertSameBytes(expected, outFile, r);
    }

    [Theory]
    [InlineData("public_utf8bom.pem", "private_utf8bom.pem")]
    [InlineData("public_utf16le.pem", "private_utf16le.pem")]
    [InlineData("public_crlf.pem", "private_crlf.pem")]
    [InlineData("public_trailing_crlf.pem", "private_trailing_crlf.pem")]
    [InlineData("public_trailing_lf.pem", "private_trailing_lf.pem")]
    [InlineData("public_utf16le.pem", "private_trailing_lf.pem")]
    [InlineData("wrapping_public_pkcs1.pem", "private_utf16le.pem")]
    public void Vectors_EncodingVariants_GiveImportExpectedJson(string publicFile, string privateFile)
    {
        var expected = File.ReadAllBytes(Vector("import_expected.json"));
        using var s = new TvmSession();
        s.Set("pub", Vector(publicFile));
        s.Set("priv", Vector(privateFile));
        var outFile = s.P("import.json");
        s.Set("out", outFile);
        var r = s.Run("Generate-ImportJsonFromPEM $pub $priv $out").AssertClean();
        AssertSameBytes(expected, outFile, r);
    }

    [Theory]
    [InlineData(PemFlavor.Utf8Lf)]
    [InlineData(PemFlavor.Utf8Crlf)]
    [InlineData(PemFlavor.Utf8BomLf)]
    [InlineData(PemFlavor.Utf8BomCrlf)]
    [InlineData(PemFlavor.Utf16LeBomCrlf)]
    [InlineData(PemFlavor.Utf16LeBomLf)]
    [InlineData(PemFlavor.Utf8NoFinalNewline)]
    public void GenerateImportJsonFromPem_ByPosition_GivesTheSameBytesForEveryPemEncoding(PemFlavor flavor)
    {
        var key = SharedKeys.Wrapping;
        using var s = new TvmSession();
        s.SetKeyPair(key, flavor);
        var outFile = s.P("import.json");
        s.Set("out", outFile);
        var r = s.Run("Generate-ImportJsonFromPEM $pub $priv $out").AssertClean();
        AssertSameBytes(key.ExpectedImportJson, outFile, r);
    }

    [Theory]
    [InlineData(PemFlavor.Utf8Lf)]
    [InlineData(PemFlavor.Utf16LeBomCrlf)]
    public void NewTvmImportJson_ByName_GivesTheSameBytesAsTheExpectedComputation(PemFlavor flavor)
    {
        var key = SharedKeys.Rsa3072;
        using var s = new TvmSession();
        s.SetKeyPair(key, flavor);
        var outFile = s.P("import.json");
        s.Set("out", outFile);
        var r = s.Run("New-TvmImportJson -PublicKeyPath $pub -PrivateKeyPath $priv -OutFilePath $out").AssertClean();
        AssertSameBytes(key.ExpectedImportJson, outFile, r);
    }

    [Fact]
    public void NewTvmImportJson_WritesNothingToThePipelineOrHost()
    {
        using var s = new TvmSession();
        s.SetKeyPair(SharedKeys.Wrapping);
        s.Set("out", s.P("import.json"));
        var r = s.Run("New-TvmImportJson $pub $priv $out").AssertClean();
        Assert.Empty(r.Output);
        Assert.Empty(r.Warnings);
        Assert.True(File.Exists(s.P("import.json")));
    }

    [Fact]
    public void NewTvmImportJson_WhatIf_WritesNoFile()
    {
        using var s = new TvmSession();
        s.SetKeyPair(SharedKeys.Wrapping);
        s.Set("out", s.P("import.json"));
        s.Run("New-TvmImportJson $pub $priv $out -WhatIf").AssertClean();
        Assert.False(File.Exists(s.P("import.json")));
    }

    [Fact]
    public void NewTvmImportJson_RelativeOutFile_IsWrittenUnderThePowerShellLocation()
    {
        using var s = new TvmSession();
        var loc = s.P("loc");
        SharedKeys.Wrapping.Write(loc);
        s.Set("loc", loc);
        var r = s.Run(@"$ExecutionContext.SessionState.Path.SetLocation($loc) | Out-Null
Generate-ImportJsonFromPEM .\public.pem .\private.pem .\import.json").AssertClean();
        AssertSameBytes(SharedKeys.Wrapping.ExpectedImportJson, Path.Combine(loc, "import.json"), r);
        Assert.False(File.Exists(Path.Combine(Environment.CurrentDirectory, "import.json")));
    }

    /// <summary>
    /// A public key as SubjectPublicKeyInfo (BEGIN PUBLIC KEY, what `openssl rsa -pubout` writes): the import
    /// file must still carry the PKCS#1 public key (docs/format.md section 3), or the command must refuse the file.
    /// It must never copy the SPKI body into "public-key".
    /// </summary>
    [Fact]
    public void SpkiPublicKey_GivesThePkcs1ImportFileOrIsRefusedAsFormat()
    {
        using var s = new TvmSession();
        s.Set("pub", Vector("wrapping_public_spki.pem"));
        s.Set("priv", Vector("wrapping_private_pkcs8.pem"));
        var outFile = s.P("import.json");
        s.Set("out", outFile);
        var r = s.Run("Generate-ImportJsonFromPEM $pub $priv $out");
        if (r.Threw)
        {
            r.AssertTerminating("PemInvalid", System.Management.Automation.ErrorCategory.InvalidData);
            Assert.Contains("wrapping_public_spki.pem", r.TerminatingMessage);
            Assert.False(File.Exists(outFile));
        }
        else
        {
            r.AssertClean();
            AssertSameBytes(File.ReadAllBytes(Vector("import_expected.json")), outFile, r);
        }
    }
}
