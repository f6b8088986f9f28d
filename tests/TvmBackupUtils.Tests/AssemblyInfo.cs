// Runspaces share one process: environment variables (TVM_VAULT_PATH, TMPDIR) are process-wide, and the
// machine has 2 cores. Test classes therefore run one after another.
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]
