using System.Management.Automation;
using System.Security;
using TvmBackupUtils.Api;
using TvmBackupUtils.Native;

namespace TvmBackupUtils.Commands
{
    /// <summary>
    /// New-TvmWrappingKey: writes a new RSA wrapping key pair as PEM files, in the shapes the documented
    /// PowerShell 7 steps write (PKCS#1 public, PKCS#8 private), or with -Password the private key encrypted
    /// (PKCS#8 PBES2: PBKDF2-SHA256, AES-256-CBC). The engine makes the keys, so it works in Windows PowerShell 5.1.
    /// Both files are owner-only; existing files are kept unless -Force.
    /// With -InVault (the flow of the releases before 2505) the key is made inside the vault that will receive
    /// the keys (New-MocKey) and only its public key is written (Get-MocKeyPublicKey): no private key leaves the vault.
    /// </summary>
    [Cmdlet(VerbsCommon.New, "TvmWrappingKey", SupportsShouldProcess = true, DefaultParameterSetName = FilesSet)]
    [OutputType(typeof(TvmWrappingKeyFiles))]
    public sealed class NewTvmWrappingKeyCommand : TvmVaultCmdlet
    {
        private const string FilesSet = "Files";
        private const string InVaultSet = "InVault";

        /// <summary>The public key PEM to write (give it to Backup-TVMKeys -WrappingKeyPath).</summary>
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = FilesSet)]
        [Parameter(Mandatory = true, ParameterSetName = InVaultSet)]
        public string PublicKeyPath { get; set; } = string.Empty;

        /// <summary>The private key PEM to write (keep it offline; Import-TvmWrappingKeyFromPem takes it for a restore).</summary>
        [Parameter(Mandatory = true, Position = 1, ParameterSetName = FilesSet)]
        public string PrivateKeyPath { get; set; } = string.Empty;

        /// <summary>Makes the key inside the vault (-VaultPath, or the cluster's MOC vault) instead of in files.</summary>
        [Parameter(Mandatory = true, ParameterSetName = InVaultSet)]
        public SwitchParameter InVault { get; set; }

        /// <summary>-InVault: the key's name in the vault (then Backup-TVMKeys -WrappingKeyName and Import-TVMKeys -WrappingKeyName).</summary>
        [Parameter(Mandatory = true, ParameterSetName = InVaultSet)]
        [Alias("WrappingKeyName")]
        public string KeyName { get; set; } = string.Empty;

        /// <summary>Modulus size in bits.</summary>
        [Parameter]
        [ValidateSet("2048", "3072", "4096")]
        public string KeySize { get; set; } = "2048";

        /// <summary>Encrypts the private key PEM with this password.</summary>
        [Parameter(ParameterSetName = FilesSet)]
        public SecureString? Password { get; set; }

        /// <summary>Replaces files that exist (the key pair they hold is lost).</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <inheritdoc />
        protected override void ProcessRecord()
        {
            uint size = uint.Parse(KeySize, System.Globalization.CultureInfo.InvariantCulture);
            string publicKey = ResolvePath(PublicKeyPath, nameof(PublicKeyPath));
            if (InVault.IsPresent)
            {
                if (!ShouldProcess(KeyName, $"Make an RSA-{KeySize} wrapping key in the vault and write its public key to {publicKey}"))
                {
                    return;
                }
                VaultHandle vault = OpenVault(create: true);
                var create = new CreateWrappingKeyRequest { KeyName = KeyName, PublicKeyPath = publicKey, KeySize = size, Force = Force.IsPresent };
                WriteObject(Invoke<CreateWrappingKeyRequest, TvmWrappingKeyFiles>(Native.CreateWrappingKey, vault, create, KeyName));
                return;
            }
            foreach (string vaultParameter in new[] { nameof(VaultPath), nameof(Group), nameof(KeyVaultName), nameof(TimeoutSec) })
            {
                if (MyInvocation.BoundParameters.ContainsKey(vaultParameter))
                {
                    ThrowTerminatingError(new ErrorRecord(
                        new PSArgumentException($"-{vaultParameter} names a vault, and this command writes the key pair to files only. Add -InVault -KeyName <name> to make the wrapping key inside the vault, or leave -{vaultParameter} out."),
                        "VaultParameterWithoutInVault", ErrorCategory.InvalidArgument, vaultParameter));
                }
            }
            string privateKey = ResolvePath(PrivateKeyPath, nameof(PrivateKeyPath));
            if (!ShouldProcess($"{publicKey}, {privateKey}", $"Write a new RSA-{KeySize} wrapping key pair"))
            {
                return;
            }
            var request = new GenerateWrappingKeyRequest
            {
                PublicKeyPath = publicKey,
                PrivateKeyPath = privateKey,
                KeySize = size,
                Force = Force.IsPresent,
            };
            (TvmStatus status, byte[] bytes) = CallWithSecret(Native.GenerateWrappingKey, null, request, Password);
            WriteObject(ResultOf<TvmWrappingKeyFiles>(status, bytes, privateKey));
        }
    }
}
