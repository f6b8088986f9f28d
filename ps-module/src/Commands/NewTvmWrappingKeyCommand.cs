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
    /// </summary>
    [Cmdlet(VerbsCommon.New, "TvmWrappingKey", SupportsShouldProcess = true)]
    [OutputType(typeof(TvmWrappingKeyFiles))]
    public sealed class NewTvmWrappingKeyCommand : TvmCmdlet
    {
        /// <summary>The public key PEM to write (give it to Backup-TVMKeys -WrappingKeyPath).</summary>
        [Parameter(Mandatory = true, Position = 0)]
        public string PublicKeyPath { get; set; } = string.Empty;

        /// <summary>The private key PEM to write (keep it offline; Import-TvmWrappingKeyFromPem takes it for a restore).</summary>
        [Parameter(Mandatory = true, Position = 1)]
        public string PrivateKeyPath { get; set; } = string.Empty;

        /// <summary>Modulus size in bits.</summary>
        [Parameter]
        [ValidateSet("2048", "3072", "4096")]
        public string KeySize { get; set; } = "2048";

        /// <summary>Encrypts the private key PEM with this password.</summary>
        [Parameter]
        public SecureString? Password { get; set; }

        /// <summary>Replaces files that exist (the key pair they hold is lost).</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <inheritdoc />
        protected override void ProcessRecord()
        {
            string publicKey = ResolvePath(PublicKeyPath, nameof(PublicKeyPath));
            string privateKey = ResolvePath(PrivateKeyPath, nameof(PrivateKeyPath));
            if (!ShouldProcess($"{publicKey}, {privateKey}", $"Write a new RSA-{KeySize} wrapping key pair"))
            {
                return;
            }
            var request = new GenerateWrappingKeyRequest
            {
                PublicKeyPath = publicKey,
                PrivateKeyPath = privateKey,
                KeySize = uint.Parse(KeySize, System.Globalization.CultureInfo.InvariantCulture),
                Force = Force.IsPresent,
            };
            (TvmStatus status, byte[] bytes) = CallWithSecret(Native.GenerateWrappingKey, null, request, Password);
            WriteObject(ResultOf<TvmWrappingKeyFiles>(status, bytes, privateKey));
        }
    }
}
