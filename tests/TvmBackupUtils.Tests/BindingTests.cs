using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using TvmBackupUtils.Tests.Infrastructure;
using Xunit;
using Xunit.Sdk;

namespace TvmBackupUtils.Tests;

/// <summary>
/// The C# side of the engine boundary, in the STAGED module: the DataContract types read and write the JSON of
/// tests/abi/samples.json unchanged (the same samples tests/abi.rs round-trips through the Rust types), and the
/// C# copies of the ABI constants, status codes, reply codes and structs of include/tvmkeys.h match the header,
/// whose every function the staged libtvmkeys exports. The module assembly is loaded from its staged path with
/// Assembly.LoadFrom (the path Import-Module uses, so it is the same assembly instance) and read by reflection.
/// </summary>
public sealed class BindingTests
{
    // ---- what is tested ---------------------------------------------------------------------------------------

    private static string DllPath => Path.Combine(Repo.ModuleDir, "TvmBackupUtils.dll");
    private static string NativePath => Repo.NativeLibrary;
    private static string HeaderPath => Path.Combine(Repo.Root, "include", "tvmkeys.h");
    private static string SamplesPath => Path.Combine(Repo.Root, "tests", "abi", "samples.json");

    private static readonly Lazy<Assembly> ModuleLazy = new(() =>
    {
        if (!File.Exists(DllPath))
            throw new XunitException(
                $"The staged module assembly {DllPath} is missing. Run `./build.ps1 Stage` in {Repo.Root} first.");
        return Assembly.LoadFrom(DllPath);
    });

    private static Assembly Module => ModuleLazy.Value;

    private static Type ModuleType(string fullName) =>
        Module.GetType(fullName, throwOnError: false)
        ?? throw new XunitException($"The staged module {DllPath} has no type {fullName}.");

    private static MethodInfo JsonMethod(string name) =>
        ModuleType("TvmBackupUtils.Native.Json").GetMethod(name, BindingFlags.NonPublic | BindingFlags.Static)
        ?? throw new XunitException($"TvmBackupUtils.Native.Json has no internal static method {name}.");

    /// <summary>Json.Read&lt;T&gt;(bytes); exceptions are thrown as they are, not wrapped.</summary>
    private static object? JsonRead(Type type, byte[] bytes) =>
        JsonMethod("Read").MakeGenericMethod(type)
            .Invoke(null, BindingFlags.DoNotWrapExceptions, binder: null, new object[] { bytes }, culture: null);

    /// <summary>Json.Write&lt;T&gt;(value); exceptions are thrown as they are, not wrapped.</summary>
    private static byte[] JsonWrite(Type type, object? value) =>
        (byte[])JsonMethod("Write").MakeGenericMethod(type)
            .Invoke(null, BindingFlags.DoNotWrapExceptions, binder: null, new[] { value }, culture: null)!;

    // ---- samples.json -----------------------------------------------------------------------------------------

    private static JsonArray Samples()
    {
        var root = JsonNode.Parse(File.ReadAllText(SamplesPath))
            ?? throw new XunitException($"{SamplesPath} is empty.");
        return root["samples"] as JsonArray
            ?? throw new XunitException($"{SamplesPath} has no \"samples\" array.");
    }

    /// <summary>(index, name, C# type) of every sample; the index tells the samples of one type apart.</summary>
    public static IEnumerable<object[]> SampleCases() =>
        Samples().Select((s, i) => new object[]
        {
            i,
            s?["name"]?.GetValue<string>() ?? "<no name>",
            s?["csharp"]?.GetValue<string>() ?? "<no csharp>",
        });

    private static JsonNode SampleJson(int index, string name)
    {
        var sample = Samples()[index] ?? throw new XunitException($"Sample #{index} ({name}) is null.");
        Assert.Equal(name, sample["name"]?.GetValue<string>());
        return sample["json"]?.DeepClone() ?? throw new XunitException($"Sample #{index} ({name}) has no \"json\".");
    }

    /// <summary>Reads <paramref name="input"/> into <paramref name="csharp"/>, writes it back and parses what was written.</summary>
    private static (JsonNode? Written, string WrittenText) RoundTrip(string csharp, JsonNode input, string what)
    {
        var type = ModuleType(csharp);
        var inputText = input.ToJsonString();
        object? read;
        try
        {
            read = JsonRead(type, Encoding.UTF8.GetBytes(inputText));
        }
        catch (Exception e)
        {
            throw new XunitException($"{what}: Json.Read<{csharp}> failed: {e.GetType().Name}: {e.Message}\n  json: {inputText}");
        }
        Assert.NotNull(read);
        Assert.IsType(type, read);
        var writtenText = Encoding.UTF8.GetString(JsonWrite(type, read));
        return (JsonNode.Parse(writtenText), writtenText);
    }

    /// <summary>Every sample reads into its C# type and writes back as the same JSON (members in any order).</summary>
    [Theory]
    [MemberData(nameof(SampleCases))]
    public void Json_EverySample_ReadsIntoItsCSharpTypeAndWritesBackUnchanged(int index, string name, string csharp)
    {
        var sample = SampleJson(index, name);
        var (written, writtenText) = RoundTrip(csharp, sample, $"Sample #{index} {name}");
        if (!JsonNode.DeepEquals(sample, written))
            throw new XunitException(
                $"Sample #{index} {name} ({csharp}) did not round-trip.\n  sample:  {sample.ToJsonString()}\n  written: {writtenText}");
    }

    /// <summary>
    /// A member the C# type does not know (one a later engine adds) is ignored on reading, and not written back:
    /// the object is written as the original sample.
    /// </summary>
    [Theory]
    [MemberData(nameof(SampleCases))]
    public void Json_EverySampleWithAnUnknownTopLevelMember_IsReadAndWrittenBackAsTheOriginal(int index, string name, string csharp)
    {
        var sample = SampleJson(index, name);
        var extended = sample.DeepClone().AsObject();
        extended["addedByALaterEngine"] = new JsonObject
        {
            ["nested"] = new JsonArray(1, "two", new JsonObject { ["three"] = true }),
            ["text"] = "ignored",
        };
        var (written, writtenText) = RoundTrip(csharp, extended, $"Sample #{index} {name} with an unknown member");
        if (!JsonNode.DeepEquals(sample, written))
            throw new XunitException(
                $"Sample #{index} {name} ({csharp}) with an unknown member was not written back as the original.\n" +
                $"  read:     {extended.ToJsonString()}\n  original: {sample.ToJsonString()}\n  written:  {writtenText}");
    }

    /// <summary>
    /// Every [DataContract] type of TvmBackupUtils.Api (the requests, the results without a public object, the event
    /// and the host's operation and reply) is the C# type of a sample, and the samples hold every event the module's
    /// sink handles: a contract type added on this side without a sample fails here, as a Rust type without one
    /// fails tests/abi.rs.
    /// </summary>
    [Fact]
    public void Samples_CoverEveryApiContractTypeAndEveryEvent()
    {
        var samples = Samples();
        var named = samples.Select(s => s?["csharp"]?.GetValue<string>()).Where(n => n != null).ToHashSet(StringComparer.Ordinal);
        var contracts = Module.GetTypes()
            .Where(t => t.Namespace == "TvmBackupUtils.Api" && t.GetCustomAttribute<System.Runtime.Serialization.DataContractAttribute>() != null)
            .Select(t => t.FullName!)
            .OrderBy(n => n, StringComparer.Ordinal)
            .ToList();
        Assert.Contains("TvmBackupUtils.Api.VerifyRequest", contracts);
        var missing = contracts.Where(c => !named.Contains(c)).ToList();
        Assert.True(missing.Count == 0, $"No sample in {SamplesPath} has the C# type {string.Join(", ", missing)}.");
        foreach (var type in named)
            ModuleType(type!);

        var events = samples.Where(s => s?["name"]?.GetValue<string>() == "Event")
            .Select(s => s!["json"]!["event"]!.GetValue<string>())
            .ToHashSet(StringComparer.Ordinal);
        var expected = new[] { "message", "warning", "verbose", "progress", "keyPending", "keyRestored", "backupPending" };
        Assert.True(events.SetEquals(expected),
            $"The event samples are {string.Join(", ", events.OrderBy(e => e))}, not {string.Join(", ", expected.OrderBy(e => e))}.");
    }

    private static object? Get(object target, string property) =>
        (target.GetType().GetProperty(property, BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
            ?? throw new XunitException($"{target.GetType().FullName} has no property {property}.")).GetValue(target);

    private static object ReadSample(string name, int nth = 0)
    {
        var samples = Samples();
        var sample = samples.Where(s => s?["name"]?.GetValue<string>() == name).Skip(nth).FirstOrDefault()
            ?? throw new XunitException($"{SamplesPath} has no sample #{nth} named {name}.");
        var type = ModuleType(sample["csharp"]!.GetValue<string>());
        return JsonRead(type, Encoding.UTF8.GetBytes(sample["json"]!.ToJsonString()))!;
    }

    /// <summary>
    /// The backup objects read from their samples show what the cmdlets show: timestamps as local DateTime (from the
    /// folder name), createdUtc as a UTC DateTime, the findings, the keys, the coverage and the source.
    /// </summary>
    [Fact]
    public void Json_BackupCheckAndBackupInfoSamples_FillThePublicProperties()
    {
        var check = ReadSample("VerifyResult");
        Assert.Equal("TvmBackupUtils.TvmBackupCheck", check.GetType().FullName);
        Assert.Equal(new DateTime(2026, 12, 1, 9, 30, 0, DateTimeKind.Local), (DateTime?)Get(check, "Timestamp"));
        var created = (DateTime?)Get(check, "CreatedUtc");
        Assert.Equal(new DateTime(2026, 12, 1, 8, 30, 0, DateTimeKind.Utc), created);
        Assert.Equal(DateTimeKind.Utc, created!.Value.Kind);
        Assert.Equal("Damaged", Get(check, "Status"));
        Assert.Equal("Deep", Get(check, "Depth"));
        Assert.Equal(2, Get(check, "Threads"));
        Assert.Equal((3, 2, 1), ((int)Get(check, "KeyCount")!, (int)Get(check, "AesCount")!, (int)Get(check, "RsaCount")!));
        var findings = (Array)Get(check, "Findings")!;
        Assert.Equal(2, findings.Length);
        Assert.Equal(("AES/vm1_256.json", "HashMismatch"), ((string)Get(findings.GetValue(0)!, "File")!, (string)Get(findings.GetValue(0)!, "Problem")!));
        Assert.Equal("UnwrapFailed", Get(findings.GetValue(1)!, "Problem"));
        var keys = (Array)Get(check, "Keys")!;
        Assert.Equal(3, keys.Length);
        Assert.Equal(("RFC5649", "CKM_RSA_AES_KEY_WRAP", 4096), ((string)Get(keys.GetValue(2)!, "KeyWrap")!, (string)Get(keys.GetValue(2)!, "Enc")!, (int)Get(keys.GetValue(2)!, "Size")!));
        Assert.Null(Get(keys.GetValue(1)!, "Enc"));
        Assert.Equal("moc:AzureStackHostAttestation/AzureStackTvmKeyVault", Get(check, "Source")!.ToString());
        var coverage = Get(check, "Coverage")!;
        Assert.False((bool)Get(coverage, "Covered")!);
        Assert.Equal("vm2", Get(((Array)Get(coverage, "MissingFromBackup")!).GetValue(0)!, "Name"));
        Assert.Equal("AES/vm0_256.json", Get(((Array)Get(coverage, "NotInVault")!).GetValue(0)!, "File"));
        Assert.Equal("AzureStackTvmAKRootKey", Get(((Array)Get(coverage, "Differing")!).GetValue(0)!, "Name"));

        // A legacy backup checked quickly: no timestamp (the folder is not named by one), no manifest, no source.
        var legacy = ReadSample("VerifyResult", 1);
        Assert.Null(Get(legacy, "Timestamp"));
        Assert.Null(Get(legacy, "CreatedUtc"));
        Assert.Null(Get(legacy, "Source"));
        Assert.Null(Get(legacy, "Coverage"));
        Assert.Null(Get(legacy, "Threads"));
        Assert.Empty((Array)Get(legacy, "Findings")!);

        var listed = (Array)Get(ReadSample("ListBackupsResult"), "Backups")!;
        Assert.Equal(4, listed.Length);
        var statuses = Enumerable.Range(0, listed.Length).Select(i => (string)Get(listed.GetValue(i)!, "Status")!).ToArray();
        Assert.Equal(new[] { "Complete", "Partial", "Damaged", "Legacy" }, statuses);
        var partial = listed.GetValue(1)!;
        Assert.Equal(new DateTime(2026, 11, 30, 9, 30, 0, DateTimeKind.Local), (DateTime)Get(partial, "Timestamp")!);
        Assert.Null(Get(partial, "CreatedUtc"));
        Assert.Contains("AES/vm1_256.json", (string)Get(listed.GetValue(2)!, "Problem")!, StringComparison.Ordinal);
        Assert.Equal(new DateTime(2026, 6, 1, 9, 30, 0, DateTimeKind.Local), (DateTime)Get(listed.GetValue(3)!, "Timestamp")!);

        var removal = ReadSample("Removal");
        Assert.Single((Array)Get(removal, "Removed")!);
        Assert.Single((Array)Get(removal, "Skipped")!);
        Assert.Equal(2, ((Array)Get(removal, "Protected")!).Length);

        var pending = ReadSample("Event", Samples().Where(s => s?["name"]?.GetValue<string>() == "Event")
            .TakeWhile(s => s!["json"]!["event"]!.GetValue<string>() != "backupPending").Count());
        Assert.Equal("backupPending", Get(pending, "Event"));
        Assert.EndsWith("20260601093000", (string)Get(pending, "Path")!, StringComparison.Ordinal);
        Assert.Null(Get(pending, "Key"));
    }

    /// <summary>
    /// Strings as the engine writes them (raw UTF-8, escapes for quotes, backslashes and control characters) and
    /// as any JSON writer may (\/, \u escapes, surrogate pairs) read to the same .NET string, and write back to
    /// JSON that reads the same again.
    /// </summary>
    [Fact]
    public void Json_StringsWithEscapesAndNonAscii_ReadAsTheEngineWritesThem()
    {
        var type = ModuleType("TvmBackupUtils.Api.EngineEvent");
        const string expected = "a\"b\\c/d\u0001\té\U0001F600\U0001F600 C:\\Users\\Åsa";
        var payload = "{\"event\":\"message\",\"text\":\"a\\\"b\\\\c\\/d\\u0001\\t\u00e9\U0001F600\\ud83d\\ude00 C:\\\\Users\\\\\u00c5sa\"}";
        object read = JsonRead(type, Encoding.UTF8.GetBytes(payload))!;
        var text = (string?)type.GetProperty("Text", BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(read);
        Assert.Equal(expected, text);
        object again = JsonRead(type, JsonWrite(type, read))!;
        Assert.Equal(expected, (string?)type.GetProperty("Text", BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(again));
    }

    /// <summary>
    /// Json.Read of bytes that are not JSON of the type (truncated anywhere, not JSON, a value of the wrong kind,
    /// trailing bytes, nothing, null) throws InvalidDataException naming the type.
    /// </summary>
    [Theory]
    [InlineData("TvmBackupUtils.Api.RestoreResult", "{\"backupPath\":\"D:\\\\b\",\"imported\":")]
    [InlineData("TvmBackupUtils.Api.RestoreResult", "not json at all")]
    [InlineData("TvmBackupUtils.Api.RestoreResult", "{\"backupPath\":\"D:\\\\b\",\"imported\":\"many\"}")]
    [InlineData("TvmBackupUtils.TvmError", "{")]
    [InlineData("TvmBackupUtils.TvmError", "{\"errorId\":\"KeyExists\",\"message\":\"The key")]
    [InlineData("TvmBackupUtils.TvmError", "{\"errorId\":\"KeyExists\"")]
    [InlineData("TvmBackupUtils.TvmError", "{\"errorId\":\"KeyExists\"} trailing")]
    [InlineData("TvmBackupUtils.Api.EngineEvent", "")]
    [InlineData("TvmBackupUtils.Api.EngineEvent", "null")]
    [InlineData("TvmBackupUtils.TvmError", "{\"errorId\":\"KeyExists\",}")]
    [InlineData("TvmBackupUtils.Api.ListKeysResult", "[]")]
    [InlineData("TvmBackupUtils.Api.ListKeysResult", "{\"keys\":{}}")]
    [InlineData("TvmBackupUtils.Api.EngineEvent", "{\"event\":\"progress\",\"current\":-1}")]
    [InlineData("TvmBackupUtils.Api.EngineEvent", "{\"event\":\"message\",\"text\":\"\\q\"}")]
    public void Json_ReadOfMalformedBytes_ThrowsInvalidDataExceptionNamingTheType(string csharp, string payload)
    {
        var type = ModuleType(csharp);
        Exception? thrown = null;
        object? read = null;
        try
        {
            read = JsonRead(type, Encoding.UTF8.GetBytes(payload));
        }
        catch (Exception e)
        {
            thrown = e;
        }
        if (thrown == null)
            throw new XunitException(
                $"Json.Read<{csharp}>('{payload}') did not throw: it read {read?.GetType().FullName ?? "null"} " +
                $"{(read == null ? "" : Encoding.UTF8.GetString(JsonWrite(type, read)))}");
        if (thrown is not InvalidDataException)
            throw new XunitException(
                $"Json.Read<{csharp}>('{payload}') threw {thrown!.GetType().FullName}, not InvalidDataException: {thrown.Message}");
        Assert.Contains(type.Name, thrown.Message, StringComparison.Ordinal);
    }

    // ---- include/tvmkeys.h ------------------------------------------------------------------------------------

    /// <summary>The header without its comments (the comments mention names such as TVM_REPLY_* and tvm_vault_free).</summary>
    private static readonly Lazy<string> HeaderCode = new(() =>
    {
        Assert.True(File.Exists(HeaderPath), $"{HeaderPath} is missing.");
        var text = File.ReadAllText(HeaderPath).Replace("\r\n", "\n");
        text = Regex.Replace(text, @"/\*.*?\*/", "", RegexOptions.Singleline);
        return Regex.Replace(text, @"//[^\n]*", "");
    });

    /// <summary>NULL_ARGUMENT -> NullArgument, data -> Data, op_len -> OpLen.</summary>
    private static string Pascal(string snake) =>
        string.Concat(snake.Split('_', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => char.ToUpperInvariant(p[0]) + p[1..].ToLowerInvariant()));

    private static IReadOnlyList<(string Name, ulong Value)> EnumMembers(Type type) =>
        Enum.GetNames(type).Select(n => (n, Convert.ToUInt64(Enum.Parse(type, n)))).ToList();

    private static string Describe(IEnumerable<(string Name, ulong Value)> members) =>
        string.Join(", ", members.OrderBy(m => m.Value).ThenBy(m => m.Name, StringComparer.Ordinal).Select(m => $"{m.Name}={m.Value}"));

    /// <summary>TVM_ABI_VERSION of the header is TvmNative.AbiVersion, the version the C# shim demands of the library.</summary>
    [Fact]
    public void Header_AbiVersion_EqualsTvmNativeAbiVersion()
    {
        var defines = Regex.Matches(HeaderCode.Value, @"^\s*#define\s+TVM_ABI_VERSION\b(?<rest>[^\n]*)$", RegexOptions.Multiline);
        var define = Assert.Single(defines);
        var value = Regex.Match(define.Groups["rest"].Value, @"^\s+(?<n>\d+)\s*$");
        Assert.True(value.Success, $"TVM_ABI_VERSION is not a plain number: '{define.Value.Trim()}'.");

        var field = ModuleType("TvmBackupUtils.Native.TvmNative").GetField("AbiVersion", BindingFlags.NonPublic | BindingFlags.Static)
            ?? throw new XunitException("TvmBackupUtils.Native.TvmNative has no internal const AbiVersion.");
        Assert.True(field.IsLiteral, "TvmNative.AbiVersion is not a const.");
        Assert.Equal(ulong.Parse(value.Groups["n"].Value), Convert.ToUInt64(field.GetRawConstantValue()));
    }

    /// <summary>enum TvmStatus of the header and the public enum TvmBackupUtils.TvmStatus: the same names (PascalCase) and values.</summary>
    [Fact]
    public void Header_TvmStatusMembers_EqualThePublicTvmStatusEnum()
    {
        var block = Regex.Match(HeaderCode.Value, @"\benum\s+TvmStatus\b(?<head>[^{;]*)\{(?<body>[^}]*)\}\s*;");
        Assert.True(block.Success, "include/tvmkeys.h has no `enum TvmStatus { ... };`.");
        Assert.Contains(": uint32_t", block.Groups["head"].Value, StringComparison.Ordinal);

        var body = block.Groups["body"].Value;
        var memberRegex = new Regex(@"\bTVM_STATUS_(?<name>[A-Z0-9_]+)\s*=\s*(?<value>\d+)\s*,");
        var header = memberRegex.Matches(body).Select(m => (Name: Pascal(m.Groups["name"].Value), Value: ulong.Parse(m.Groups["value"].Value))).ToList();
        var rest = memberRegex.Replace(body, "").Trim();
        Assert.True(rest.Length == 0, $"enum TvmStatus holds something that is not `TVM_STATUS_X = n,`: '{rest}'.");
        Assert.NotEmpty(header);
        Assert.Equal(6, header.Count); // OK, NULL_ARGUMENT, CANCELLED, INVALID_REQUEST, FAILED, PANIC today
        Assert.Equal(header.Count, header.Select(m => m.Name).Distinct().Count());

        var type = ModuleType("TvmBackupUtils.TvmStatus");
        Assert.True(type.IsEnum && type.IsPublic, "TvmBackupUtils.TvmStatus is not a public enum.");
        Assert.Equal(typeof(uint), Enum.GetUnderlyingType(type));
        var csharp = EnumMembers(type);
        if (!header.OrderBy(m => m.Name, StringComparer.Ordinal).SequenceEqual(csharp.OrderBy(m => m.Name, StringComparer.Ordinal)))
            throw new XunitException(
                $"TvmStatus differs.\n  header (tvmkeys.h):             {Describe(header)}\n  C# (TvmBackupUtils.TvmStatus):  {Describe(csharp)}");
    }

    /// <summary>The TVM_REPLY_* defines of the header and the internal enum TvmBackupUtils.Native.TvmReply: the same names and values.</summary>
    [Fact]
    public void Header_TvmReplyDefines_EqualTheInternalTvmReplyEnum()
    {
        Assert.Matches(new Regex(@"^\s*typedef\s+uint32_t\s+TvmReply\s*;", RegexOptions.Multiline), HeaderCode.Value);
        var defines = Regex.Matches(HeaderCode.Value, @"^\s*#define\s+TVM_REPLY_(?<rest>[^\n]*)$", RegexOptions.Multiline);
        var header = new List<(string Name, ulong Value)>();
        foreach (Match d in defines)
        {
            var m = Regex.Match(d.Groups["rest"].Value, @"^(?<name>[A-Z0-9_]+)\s+(?<value>\d+)\s*$");
            Assert.True(m.Success, $"A TVM_REPLY_ define is not `#define TVM_REPLY_X n`: '{d.Value.Trim()}'.");
            header.Add((Pascal(m.Groups["name"].Value), ulong.Parse(m.Groups["value"].Value)));
        }
        Assert.NotEmpty(header);
        Assert.Equal(3, header.Count); // PROCEED, SKIP, CANCEL today
        Assert.Equal(header.Count, header.Select(m => m.Name).Distinct().Count());

        var type = ModuleType("TvmBackupUtils.Native.TvmReply");
        Assert.True(type.IsEnum, "TvmBackupUtils.Native.TvmReply is not an enum.");
        Assert.Equal(typeof(uint), Enum.GetUnderlyingType(type));
        var csharp = EnumMembers(type);
        if (!header.OrderBy(m => m.Name, StringComparer.Ordinal).SequenceEqual(csharp.OrderBy(m => m.Name, StringComparer.Ordinal)))
            throw new XunitException(
                $"TvmReply differs.\n  header (TVM_REPLY_*):              {Describe(header)}\n  C# (TvmBackupUtils.Native.TvmReply): {Describe(csharp)}");
    }

    /// <summary>
    /// A struct of the header and its C# mirror in TvmBackupUtils.Native: the same fields (PascalCase) in the same
    /// order, each pointer-sized of the matching kind (a pointer or function pointer is IntPtr, size_t is UIntPtr),
    /// and a marshalled size of one pointer per field.
    /// </summary>
    [Theory]
    [InlineData("TvmBuffer", 2)]
    [InlineData("TvmHostReply", 2)]
    [InlineData("TvmHostVault", 3)]
    public void Header_Struct_HasTheFieldsOfItsCSharpMirrorInOrder(string name, int expectedFields)
    {
        var code = HeaderCode.Value;
        var block = Regex.Match(code, $@"\btypedef\s+struct\s+{name}\s*\{{(?<body>[^}}]*)\}}\s*{name}\s*;");
        Assert.True(block.Success, $"include/tvmkeys.h has no `typedef struct {name} {{ ... }} {name};`.");
        var functionPointers = Regex.Matches(code, @"\btypedef\s+[^;(]*\(\s*\*\s*(?<name>\w+)\s*\)")
            .Select(m => m.Groups["name"].Value).ToHashSet(StringComparer.Ordinal);

        var header = new List<(string Name, Type Kind, string Declaration)>();
        foreach (var line in block.Groups["body"].Value.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0))
        {
            var m = Regex.Match(line, @"^(?<type>(?:const\s+)?(?:struct\s+)?\w+(?:\s*\*)*)\s*(?<name>[a-z_][a-z0-9_]*)\s*;$");
            Assert.True(m.Success, $"struct {name}: '{line}' is not a field declaration this test understands.");
            var ctype = m.Groups["type"].Value.Trim();
            var kind = ctype.Contains('*') || functionPointers.Contains(ctype) ? typeof(IntPtr)
                : ctype == "size_t" ? typeof(UIntPtr)
                : throw new XunitException($"struct {name}: field '{line}' has a C type ({ctype}) this test does not map.");
            header.Add((Pascal(m.Groups["name"].Value), kind, line));
        }
        Assert.NotEmpty(header);
        Assert.Equal(expectedFields, header.Count);

        var type = ModuleType("TvmBackupUtils.Native." + name);
        Assert.True(type.IsValueType && type.IsLayoutSequential, $"TvmBackupUtils.Native.{name} is not a sequential struct.");
        var fields = type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
            .OrderBy(f => f.MetadataToken).ToList();
        var describeHeader = string.Join(" ", header.Select(h => h.Declaration));
        var describeCSharp = string.Join(" ", fields.Select(f => $"{f.FieldType.Name} {f.Name};"));
        var context = $"struct {name}\n  header: {describeHeader}\n  C#:     {describeCSharp}";
        Assert.True(header.Select(h => h.Name).SequenceEqual(fields.Select(f => f.Name)), $"Field names or order differ. {context}");
        Assert.True(header.Select(h => h.Kind).SequenceEqual(fields.Select(f => f.FieldType)), $"Field types differ. {context}");
        Assert.Equal(expectedFields * IntPtr.Size, Marshal.SizeOf(type));
    }

    // ---- exports ----------------------------------------------------------------------------------------------

    /// <summary>The functions the header declares: `tvm_x(` after the return type at the start of a declaration.</summary>
    private static IReadOnlyList<string> HeaderFunctions()
    {
        var functions = Regex.Matches(HeaderCode.Value,
                @"^(?:const\s+)?(?:struct\s+)?[A-Za-z_]\w*(?:\s*\*)*\s*\b(?<name>tvm_\w+)\s*\(", RegexOptions.Multiline)
            .Select(m => m.Groups["name"].Value).ToList();
        // Every `tvm_...(` in the code is one of those declarations (none slipped past the pattern).
        var allCalls = Regex.Matches(HeaderCode.Value, @"\b(?<name>tvm_\w+)\s*\(").Select(m => m.Groups["name"].Value).ToList();
        Assert.Equal(allCalls, functions);
        Assert.NotEmpty(functions);
        Assert.Equal(functions.Count, functions.Distinct(StringComparer.Ordinal).Count());
        // The header is generated from src/ffi/mod.rs: its exports are the `extern "C" fn tvm_...` there, no more, no fewer
        // (which also tells that the pattern above missed none).
        var source = File.ReadAllText(Path.Combine(Repo.Root, "src", "ffi", "mod.rs"));
        var exported = Regex.Matches(source, @"^pub\s+(?:unsafe\s+)?extern\s+""C""\s+fn\s+(?<name>tvm_\w+)\s*\(", RegexOptions.Multiline)
            .Select(m => m.Groups["name"].Value).OrderBy(n => n, StringComparer.Ordinal).ToList();
        Assert.Equal(exported, functions.OrderBy(n => n, StringComparer.Ordinal).ToList());
        Assert.True(functions.Count >= 15, $"include/tvmkeys.h declares {functions.Count} functions; ABI 3 has at least 15.");
        return functions;
    }

    /// <summary>The staged libtvmkeys exports every function include/tvmkeys.h declares (those of src/ffi/mod.rs).</summary>
    [Fact]
    public void Header_EveryDeclaredFunction_IsExportedByTheStagedNativeLibrary()
    {
        var functions = HeaderFunctions();
        Assert.True(File.Exists(NativePath), $"The staged engine library {NativePath} is missing.");
        // Not freed: the module loads the same file into this process, and its handle must outlive this test.
        var library = NativeLibrary.Load(NativePath);
        var missing = functions.Where(f => !NativeLibrary.TryGetExport(library, f, out var address) || address == IntPtr.Zero).ToList();
        Assert.True(missing.Count == 0,
            $"{NativePath} does not export {string.Join(", ", missing)} (declared in include/tvmkeys.h).");
    }
}
