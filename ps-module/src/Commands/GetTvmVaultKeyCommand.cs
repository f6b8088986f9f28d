using System;
using System.Management.Automation;
using TvmBackupUtils.Api;
using TvmBackupUtils.Native;

namespace TvmBackupUtils.Commands
{
    /// <summary>Get-TvmVaultKey: the keys of a vault, all or those whose name matches Name (wildcards).</summary>
    [Cmdlet(VerbsCommon.Get, "TvmVaultKey")]
    [OutputType(typeof(TvmKey))]
    public sealed class GetTvmVaultKeyCommand : TvmVaultCmdlet
    {
        /// <summary>Key name; wildcards allowed. Default: every key.</summary>
        [Parameter(Position = 0)]
        [SupportsWildcards]
        public string? Name { get; set; }

        /// <inheritdoc />
        protected override void ProcessRecord()
        {
            VaultHandle vault = OpenVault(create: false);
            WildcardPattern? pattern = string.IsNullOrEmpty(Name)
                ? null
                : new WildcardPattern(Name, WildcardOptions.IgnoreCase | WildcardOptions.CultureInvariant);
            bool found = false;
            foreach (TvmKey key in Invoke<ListKeysRequest, ListKeysResult>(Native.VaultList, vault, new ListKeysRequest(), null).Keys)
            {
                if (pattern == null || pattern.IsMatch(key.Name))
                {
                    found = true;
                    WriteObject(key);
                }
            }
            if (!found && !string.IsNullOrEmpty(Name) && !WildcardPattern.ContainsWildcardCharacters(Name))
            {
                var failure = new ItemNotFoundException($"The vault has no key named '{Name}'.");
                WriteError(new ErrorRecord(failure, "KeyNotFound", ErrorCategory.ObjectNotFound, Name));
            }
        }
    }
}
