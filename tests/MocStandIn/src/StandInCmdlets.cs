// The stand-in's own controls. They are not part of the Moc module: their nouns say MocStandIn.

using System;
using System.Collections.Generic;
using System.IO;
using System.Management.Automation;

namespace MocStandIn;

/// <summary>
/// Set-MocStandIn: where the stand-in keeps its vaults (one folder per simulated cluster), what Get-MocConfig
/// reports, which calls hang and how long every Moc cmdlet call waits first. Replaces the whole configuration: a setting not given goes back to its default.
/// </summary>
[Cmdlet(VerbsCommon.Set, "MocStandIn")]
public sealed class SetMocStandInCommand : PSCmdlet
{
    [Parameter(Mandatory = true, Position = 0)]
    public string StateRoot { get; set; } = null!;

    [Parameter]
    [AllowNull]
    [AllowEmptyString]
    public string? ModuleVersion { get; set; }

    [Parameter]
    [AllowNull]
    [AllowEmptyString]
    public string? Version { get; set; }

    [Parameter]
    [AllowNull]
    [AllowEmptyString]
    public string? CloudFqdn { get; set; }

    [Parameter]
    public bool HangOnWrappingKeyCollision { get; set; } = true;

    [Parameter]
    [AllowNull]
    [AllowEmptyCollection]
    public string[]? HangOn { get; set; }

    /// <summary>Milliseconds every Moc cmdlet call waits before its work (a slow cloud agent); 0 by default.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int CallDelayMilliseconds { get; set; }

    /// <summary>The first N Export-MocKey and Import-MocKey calls each wait until all N of them have arrived, which only overlapping calls can (at most 30 s); 0, the default: no gathering.</summary>
    [Parameter]
    [ValidateRange(0, 64)]
    public int GatherCalls { get; set; }

    protected override void EndProcessing()
    {
        string root = GetUnresolvedProviderPathFromPSPath(StateRoot);
        Directory.CreateDirectory(root);

        var rules = new List<HangRule>();
        foreach (string entry in HangOn ?? Array.Empty<string>())
        {
            HangRule rule = HangRule.Parse(entry, out string? problem)
                ?? throw new PSArgumentException($"-HangOn {problem}", nameof(HangOn));
            rules.Add(rule);
        }

        var bound = MyInvocation.BoundParameters;
        StandIn.Settings = new StandInSettings(
            StateRoot: root,
            ModuleVersion: bound.ContainsKey(nameof(ModuleVersion)) ? ModuleVersion : StandInSettings.DefaultModuleVersion,
            Version: bound.ContainsKey(nameof(Version)) ? Version : StandInSettings.DefaultVersion,
            CloudFqdn: bound.ContainsKey(nameof(CloudFqdn)) ? CloudFqdn : StandInSettings.DefaultCloudFqdn,
            HangOnWrappingKeyCollision: HangOnWrappingKeyCollision,
            HangOn: rules,
            CallDelayMilliseconds: CallDelayMilliseconds,
            GatherCalls: GatherCalls);
    }
}

/// <summary>Get-MocStandInCall: the Moc cmdlet calls the stand-in received, oldest first.</summary>
[Cmdlet(VerbsCommon.Get, "MocStandInCall")]
[OutputType(typeof(MocStandInCall))]
public sealed class GetMocStandInCallCommand : PSCmdlet
{
    /// <summary>Only the calls of the cmdlets whose name matches (wildcards).</summary>
    [Parameter(Position = 0)]
    public string? Command { get; set; }

    protected override void EndProcessing()
    {
        var filter = Command is null ? null : new WildcardPattern(Command, WildcardOptions.IgnoreCase);
        foreach (MocStandInCall call in StandIn.RecordedCalls())
        {
            if (filter is null || filter.IsMatch(call.Command))
            {
                WriteObject(call);
            }
        }
    }
}

/// <summary>Clear-MocStandInCall: empties the record of calls.</summary>
[Cmdlet(VerbsCommon.Clear, "MocStandInCall")]
public sealed class ClearMocStandInCallCommand : PSCmdlet
{
    protected override void EndProcessing() => StandIn.ClearCalls();
}
