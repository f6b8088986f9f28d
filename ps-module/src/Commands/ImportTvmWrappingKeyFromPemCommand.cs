using System;
using System.Management.Automation;
using TvmBackupUtils.Api;
using TvmBackupUtils.Native;

namespace TvmBackupUtils.Commands
{
    /// <summary>
    /// Import-TvmWrappingKeyFromPem: imports an RSA key pair (PEM files) into the vault as the wrapping key
    /// that Import-TVMKeys unwraps a backup with. The engine checks KeySize and that the two halves match; a name the
    /// vault holds is Exists when it is this same key (nothing written) and the error WrappingKeyConflict otherwise.
    /// </summary>
    [Cmdlet(VerbsData.Import, "TvmWrappingKeyFromPem", SupportsShouldProcess = true, DefaultParameterSetName = FilesSet)]
    [OutputType(typeof(TvmWrappingKey))]
    public sealed class ImportTvmWrappingKeyFromPemCommand : TvmVaultCmdlet
    {
        private const string FilesSet = "Files";
        private const string SharesSet = "Shares";

        /// <summary>Name of the key in the vault.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        public string KeyName { get; set; } = string.Empty;

        /// <summary>PEM file of the RSA public key (with -SharePath optional: then checked against the rebuilt key).</summary>
        [Parameter(Mandatory = true, Position = 1, ParameterSetName = FilesSet)]
        [Parameter(ParameterSetName = SharesSet)]
        public string PublicKeyPath { get; set; } = string.Empty;

        /// <summary>PEM file of the RSA private key.</summary>
        [Parameter(Mandatory = true, Position = 2, ParameterSetName = FilesSet)]
        public string PrivateKeyPath { get; set; } = string.Empty;

        /// <summary>Modulus size as the original takes it, a string: 2048, 3072 or 4096.</summary>
        [Parameter(Mandatory = true, Position = 3, ParameterSetName = FilesSet)]
        [Parameter(Mandatory = true, ParameterSetName = SharesSet)]
        public string KeySize { get; set; } = string.Empty;

        /// <summary>The password of an encrypted private key PEM (ENCRYPTED PRIVATE KEY, as New-TvmWrappingKey -Password writes it).</summary>
        [Parameter(ParameterSetName = FilesSet)]
        public System.Security.SecureString? Password { get; set; }

        /// <summary>Share files (Split-TvmWrappingKey) that rebuild the private key in memory, in place of -PrivateKeyPath.</summary>
        [Parameter(Mandatory = true, ParameterSetName = SharesSet)]
        public string[] SharePath { get; set; } = Array.Empty<string>();

        /// <summary>The custodians' private key PEMs that open the shares encrypted to them.</summary>
        [Parameter(ParameterSetName = SharesSet)]
        public string[]? CustodianPrivateKeyPath { get; set; }

        /// <summary>The custodians' passwords (of password-protected shares, or of encrypted custodian private keys).</summary>
        [Parameter(ParameterSetName = SharesSet)]
        public System.Security.SecureString[]? CustodianPassword { get; set; }

        /// <summary>The original checks the MOC stack version ((Get-MocConfig).version) for this command only.</summary>
        private protected override bool ChecksMocStackVersion => true;

        /// <inheritdoc />
        protected override void ProcessRecord()
        {
            if (ParameterSetName == SharesSet)
            {
                ImportFromShares();
                return;
            }
            string publicKey = ResolvePath(PublicKeyPath, nameof(PublicKeyPath));
            string privateKey = ResolvePath(PrivateKeyPath, nameof(PrivateKeyPath));
            if (!ShouldProcess(KeyName, $"Import the RSA key pair {publicKey} / {privateKey} into the vault as a wrapping key"))
            {
                return;
            }
            VaultHandle vault = OpenVault(create: true);
            var request = new ImportWrappingKeyRequest
            {
                KeyName = KeyName,
                PublicKeyPath = publicKey,
                PrivateKeyPath = privateKey,
                KeySize = KeySize,
            };
            (TvmStatus status, byte[] bytes) = CallWithSecret(Native.ImportWrappingKey, vault, request, Password);
            if (status == TvmStatus.Failed && Password == null && Errors.Read(bytes, status).ErrorId == "PemEncrypted")
            {
                // An encrypted private key and no -Password: ask, where the session can ask (else the engine's error stands).
                using (System.Security.SecureString? typed = PromptPassword(privateKey))
                {
                    if (typed != null)
                    {
                        (status, bytes) = CallWithSecret(Native.ImportWrappingKey, vault, request, typed);
                    }
                }
            }
            WriteObject(ResultOf<TvmWrappingKey>(status, bytes, KeyName));
        }

        /// <summary>-SharePath: the private key rebuilt from the shares by the engine, in memory.</summary>
        private void ImportFromShares()
        {
            string? publicKey = MyInvocation.BoundParameters.ContainsKey(nameof(PublicKeyPath)) ? ResolvePath(PublicKeyPath, nameof(PublicKeyPath)) : null;
            string[] shares = ResolvePaths(SharePath, nameof(SharePath)) ?? Array.Empty<string>();
            if (!ShouldProcess(KeyName, $"Import the wrapping key rebuilt from {shares.Length} share files into the vault"))
            {
                return;
            }
            VaultHandle vault = OpenVault(create: true);
            var request = new ImportWrappingKeyRequest
            {
                KeyName = KeyName,
                PublicKeyPath = publicKey,
                KeySize = KeySize,
                SharePaths = shares,
                CustodianPrivateKeyPaths = ResolvePaths(CustodianPrivateKeyPath, nameof(CustodianPrivateKeyPath)),
            };
            (TvmStatus status, byte[] bytes) = CallWithSecretList(Native.ImportWrappingKey, vault, request, null, CustodianPassword);
            WriteObject(ResultOf<TvmWrappingKey>(status, bytes, KeyName));
        }

        /// <summary>
        /// Asks for the password, where a person can answer: an interactive session whose input is a console
        /// (not -NonInteractive, not redirected). Null otherwise, and the engine's error stands.
        /// </summary>
        private System.Security.SecureString? PromptPassword(string privateKey)
        {
            bool nonInteractive = Array.Exists(Environment.GetCommandLineArgs(),
                a => a.StartsWith("-noni", StringComparison.OrdinalIgnoreCase) && "-noninteractive".StartsWith(a.ToLowerInvariant(), StringComparison.Ordinal));
            if (nonInteractive || Console.IsInputRedirected || !Environment.UserInteractive)
            {
                return null;
            }
            try
            {
                var field = new System.Management.Automation.Host.FieldDescription("Password");
                field.SetParameterType(typeof(System.Security.SecureString));
                var answers = Host.UI.Prompt("Encrypted private key", $"The private key file '{privateKey}' is encrypted with a password.",
                    new System.Collections.ObjectModel.Collection<System.Management.Automation.Host.FieldDescription> { field });
                return answers.TryGetValue("Password", out PSObject? typed) ? typed?.BaseObject as System.Security.SecureString : null;
            }
            catch (Exception e) when (e is PSInvalidOperationException || e is NotImplementedException || e is InvalidOperationException || e is System.IO.IOException)
            {
                return null;
            }
        }
    }
}
