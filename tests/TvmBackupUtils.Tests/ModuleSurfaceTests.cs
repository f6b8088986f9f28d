using System.Management.Automation;
using TvmBackupUtils.Tests.Infrastructure;
using Xunit;

namespace TvmBackupUtils.Tests;

/// <summary>What the module exports, and the parameters of the four commands of the original (docs/format.md section 9).</summary>
public sealed class ModuleSurfaceTests
{
    [Theory]
    [InlineData("psd1")]
    [InlineData("psm1")]
    public void Import_ExportsExactlyTheSixCmdletsAndTheGenerateImportJsonFromPemAlias(string which)
    {
        using var s = new TvmSession(which);
        var r = s.Run("Get-Command -Module TvmBackupUtils").AssertClean();
        var commands = r.Output.Select(o => (CommandInfo)o.BaseObject).ToList();
        Assert.Equal(
            Contract.CmdletNames.OrderBy(x => x, StringComparer.Ordinal),
            commands.Where(c => c.CommandType == CommandTypes.Cmdlet).Select(c => c.Name).OrderBy(x => x, StringComparer.Ordinal));
        var alias = Assert.Single(commands, c => c.CommandType == CommandTypes.Alias);
        Assert.Equal(Contract.Alias, alias.Name);
        Assert.Equal("New-TvmImportJson", ((AliasInfo)alias).ResolvedCommand?.Name);
        Assert.Equal(7, commands.Count); // no functions, no stray commands
    }

    [Theory]
    [InlineData("psd1")]
    [InlineData("psm1")]
    public void Import_WritesNoWarningAndNoError(string which)
    {
        using var s = new TvmSession(which);
        Assert.NotNull(s.ImportResult);
        Assert.Empty(s.ImportResult!.Warnings);
        Assert.Empty(s.ImportResult.Errors);
        Assert.False(s.ImportResult.Threw);
    }

    [Fact]
    public void Import_RelativePsm1PathAsRunbooksWriteIt_MakesTheCommandsAvailable()
    {
        Repo.RequireStagedModule();
        using var s = new TvmSession(import: null);
        s.Set("moduleDir", Repo.ModuleDir);
        var r = s.Run(@"$ExecutionContext.SessionState.Path.SetLocation($moduleDir) | Out-Null
Import-Module .\TvmBackupUtils.psm1 -Force
Get-Command Backup-TVMKeys, Import-TVMKeys, Import-TvmWrappingKeyFromPem, Generate-ImportJsonFromPEM");
        r.AssertClean();
        Assert.Empty(r.Warnings);
        Assert.Equal(4, r.Output.Count);
    }

    [Fact]
    public void Import_TwiceWithForce_KeepsTheCommandsWorking()
    {
        using var s = new TvmSession("psm1");
        s.Run("Import-Module $tvmModulePath -Force").AssertClean();
        Assert.Equal(7, s.Run("Get-Command -Module TvmBackupUtils").AssertClean().Output.Count);
        s.Set("vault", s.P("vault"));
        var k = Objects.Key(Assert.Single(s.Run("New-TvmVaultKey -Name k1 -Type AES -Size 256 -VaultPath $vault").AssertClean().Output));
        Assert.Equal("k1", k.Name);
    }

    public static TheoryData<string, string[]> OriginalCommands => new()
    {
        { "Backup-TVMKeys", new[] { "WrappingKeyPath", "BackupRootPath" } },
        { "Import-TVMKeys", new[] { "BackupPath", "WrappingKeyName" } },
        { "Import-TvmWrappingKeyFromPem", new[] { "KeyName", "PublicKeyPath", "PrivateKeyPath", "KeySize" } },
        { "Generate-ImportJsonFromPEM", new[] { "PublicKeyPath", "PrivateKeyPath", "OutFilePath" } },
        { "New-TvmImportJson", new[] { "PublicKeyPath", "PrivateKeyPath", "OutFilePath" } },
    };

    [Theory]
    [MemberData(nameof(OriginalCommands))]
    public void OriginalCommand_HasMandatoryPositionalStringParametersInTheOriginalOrder(string command, string[] parameters)
    {
        using var s = new TvmSession();
        s.Set("cmdName", command);
        var r = s.Run("Get-Command $cmdName").AssertClean();
        var info = (CommandInfo)Assert.Single(r.Output).BaseObject;
        if (info is AliasInfo a) info = a.ResolvedCommand!;
        for (var i = 0; i < parameters.Length; i++)
        {
            Assert.True(info.Parameters.TryGetValue(parameters[i], out var p), $"{command} has no parameter {parameters[i]}");
            Assert.Equal(typeof(string), p!.ParameterType);
            Assert.NotEmpty(p.ParameterSets);
            foreach (var (setName, set) in p.ParameterSets)
            {
                Assert.True(set.IsMandatory, $"{command} -{parameters[i]} is not mandatory in set {setName}");
                Assert.True(set.Position == i, $"{command} -{parameters[i]} has position {set.Position} in set {setName}, expected {i}");
            }
        }
        // no other positional parameter
        var positional = info.Parameters.Values
            .Where(p => p.ParameterSets.Values.Any(set => set.Position >= 0))
            .Select(p => p.Name).OrderBy(x => x, StringComparer.Ordinal);
        Assert.Equal(parameters.OrderBy(x => x, StringComparer.Ordinal), positional);
    }

    [Theory]
    [InlineData("Backup-TVMKeys")]
    [InlineData("Import-TVMKeys")]
    [InlineData("Import-TvmWrappingKeyFromPem")]
    [InlineData("New-TvmImportJson")]
    public void CommandThatWrites_SupportsWhatIf(string command)
    {
        using var s = new TvmSession();
        s.Set("cmdName", command);
        var info = (CommandInfo)Assert.Single(s.Run("Get-Command $cmdName").AssertClean().Output).BaseObject;
        Assert.True(info.Parameters.ContainsKey("WhatIf"), $"{command} has no -WhatIf");
        Assert.True(info.Parameters.ContainsKey("Confirm"), $"{command} has no -Confirm");
    }

    [Theory]
    [InlineData("Backup-TVMKeys")]
    [InlineData("Import-TVMKeys")]
    [InlineData("Import-TvmWrappingKeyFromPem")]
    [InlineData("New-TvmVaultKey")]
    [InlineData("Get-TvmVaultKey")]
    public void VaultCommand_HasOptionalNamedStringVaultPath(string command)
    {
        using var s = new TvmSession();
        s.Set("cmdName", command);
        var info = (CommandInfo)Assert.Single(s.Run("Get-Command $cmdName").AssertClean().Output).BaseObject;
        Assert.True(info.Parameters.TryGetValue("VaultPath", out var p), $"{command} has no -VaultPath");
        Assert.Equal(typeof(string), p!.ParameterType);
        Assert.All(p.ParameterSets.Values, set =>
        {
            Assert.False(set.IsMandatory);
            Assert.True(set.Position < 0, $"-VaultPath must not be positional (position {set.Position})");
        });
    }

    [Fact]
    public void ImportTvmKeys_BackupPath_BindsFromPipelinePropertyPathOrFullName()
    {
        using var s = new TvmSession();
        var info = (CommandInfo)Assert.Single(s.Run("Get-Command Import-TVMKeys").AssertClean().Output).BaseObject;
        var p = info.Parameters["BackupPath"];
        Assert.Contains("Path", p.Aliases);
        Assert.Contains("FullName", p.Aliases);
        Assert.All(p.ParameterSets.Values, set => Assert.True(set.ValueFromPipelineByPropertyName));
    }

    [Fact]
    public void NewTvmVaultKey_HasMandatoryNameTypeAndIntSize()
    {
        using var s = new TvmSession();
        var info = (CommandInfo)Assert.Single(s.Run("Get-Command New-TvmVaultKey").AssertClean().Output).BaseObject;
        Assert.Equal(typeof(string), info.Parameters["Name"].ParameterType);
        Assert.Equal(typeof(string), info.Parameters["Type"].ParameterType);
        Assert.Equal(typeof(int), info.Parameters["Size"].ParameterType);
        foreach (var n in new[] { "Name", "Type", "Size" })
            Assert.All(info.Parameters[n].ParameterSets.Values, set => Assert.True(set.IsMandatory, n));
    }
}
