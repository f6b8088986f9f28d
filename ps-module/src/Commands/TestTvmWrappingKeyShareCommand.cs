using System;
using System.Management.Automation;
using System.Security;
using TvmBackupUtils.Api;
using TvmBackupUtils.Native;

namespace TvmBackupUtils.Commands
{
    /// <summary>
    /// Test-TvmWrappingKeyShare: checks share files one by one without rebuilding the key (structure, checksum,
    /// which split each belongs to) and, given a custodian private key or password, that the share opens. So a
    /// custodian can check a share alone. One TvmWrappingKeyShare per file (Status Valid, Opened, Damaged or
    /// NotOpened); a Damaged or NotOpened share is also a non-terminating error, so $? is false.
    /// </summary>
    [Cmdlet(VerbsDiagnostic.Test, "TvmWrappingKeyShare")]
    [OutputType(typeof(TvmWrappingKeyShare))]
    public sealed class TestTvmWrappingKeyShareCommand : ShareCmdlet
    {
        /// <inheritdoc />
        protected override void EndProcessing()
        {
            var request = new TestWrappingKeyShareRequest
            {
                SharePaths = Shares,
                CustodianPrivateKeyPaths = ResolvePaths(CustodianPrivateKeyPath, nameof(CustodianPrivateKeyPath)),
            };
            (TvmStatus status, byte[] bytes) = CallWithSecretList(Native.TestWrappingKeyShare, null, request, null, CustodianPassword);
            foreach (TvmWrappingKeyShare share in ResultOf<TestWrappingKeyShareResult>(status, bytes, request.SharePaths).Shares)
            {
                WriteObject(share);
                if (share.ErrorId != null)
                {
                    var error = new TvmError
                    {
                        ErrorId = share.ErrorId,
                        Category = share.Category,
                        Message = share.Message ?? $"The share file '{share.Path}' is {share.Status}.",
                    };
                    var exception = new TvmException(TvmStatus.Failed, error, error.Message);
                    WriteError(new ErrorRecord(exception, error.ErrorId, error.PowerShellCategory, share.Path));
                }
            }
        }
    }
}
