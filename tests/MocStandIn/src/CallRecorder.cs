// Builds the record of one call: which parameters were bound, spelled as the caller wrote them when the call
// came from script text. The engine normalises BoundParameters to the declared names (-Type binds `type`), so
// the spelling is recovered from the command's own text: its extent is parsed and each `-parameter` token is
// matched to the declared parameter it bound (exact name, alias, or unique prefix, as PowerShell does).
// Calls made through the API (PowerShell.AddCommand/AddParameter) or with splatting have no such text for
// those parameters; they are recorded under their declared names.

using System;
using System.Collections.Generic;
using System.Collections.Specialized;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace MocStandIn;

internal static class CallRecorder
{
    private static readonly HashSet<string> CommonParameterNames = new(
        Cmdlet.CommonParameters.Concat(Cmdlet.OptionalCommonParameters), StringComparer.OrdinalIgnoreCase);

    public static MocStandInCall Capture(InvocationInfo invocation)
    {
        string command = invocation.MyCommand.Name;
        var bound = invocation.BoundParameters
            .Where(kv => !CommonParameterNames.Contains(kv.Key))
            .ToList();

        var parameters = new OrderedDictionary(StringComparer.OrdinalIgnoreCase);
        var recorded = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

        foreach ((string spelled, string declared) in SpelledNames(invocation))
        {
            var match = bound.FirstOrDefault(kv => string.Equals(kv.Key, declared, StringComparison.OrdinalIgnoreCase));
            if (match.Key is null || !recorded.Add(match.Key))
            {
                continue;
            }
            parameters.Add(spelled, StandIn.AsString(match.Value));
        }

        foreach (var kv in bound)
        {
            if (recorded.Add(kv.Key))
            {
                parameters.Add(kv.Key, StandIn.AsString(kv.Value));
            }
        }

        return new MocStandInCall(command, parameters, DateTime.Now);
    }

    /// <summary>(as typed, declared name) for each -parameter of the command's text, in order; empty if unknown.</summary>
    private static List<(string Spelled, string Declared)> SpelledNames(InvocationInfo invocation)
    {
        var result = new List<(string, string)>();
        try
        {
            string? text = invocation.Statement;
            if (string.IsNullOrWhiteSpace(text))
            {
                return result;
            }

            Ast ast = Parser.ParseInput(text, out _, out _);
            string name = invocation.MyCommand.Name;
            string invoked = invocation.InvocationName ?? name;
            CommandAst? commandAst = ast.FindAll(a => a is CommandAst, searchNestedScriptBlocks: true)
                .Cast<CommandAst>()
                .FirstOrDefault(c => NamesCommand(c.GetCommandName(), name, invoked));
            if (commandAst is null)
            {
                return result;
            }

            var declared = invocation.MyCommand.Parameters;
            foreach (CommandParameterAst parameter in commandAst.CommandElements.OfType<CommandParameterAst>())
            {
                string? resolved = Resolve(parameter.ParameterName, declared);
                if (resolved is not null)
                {
                    result.Add((parameter.ParameterName, resolved));
                }
            }
        }
        catch (Exception)
        {
            // The record is a test aid; a spelling that cannot be recovered falls back to the declared names.
            result.Clear();
        }
        return result;
    }

    private static bool NamesCommand(string? written, string name, string invoked)
    {
        if (written is null)
        {
            return false;
        }
        int slash = written.LastIndexOf('\\');
        string bare = slash >= 0 ? written.Substring(slash + 1) : written;
        return string.Equals(bare, name, StringComparison.OrdinalIgnoreCase)
            || string.Equals(written, invoked, StringComparison.OrdinalIgnoreCase);
    }

    private static string? Resolve(string typed, Dictionary<string, ParameterMetadata> declared)
    {
        foreach (var kv in declared)
        {
            if (string.Equals(kv.Key, typed, StringComparison.OrdinalIgnoreCase)
                || kv.Value.Aliases.Any(a => string.Equals(a, typed, StringComparison.OrdinalIgnoreCase)))
            {
                return kv.Key;
            }
        }
        var prefixed = declared.Keys.Where(k => k.StartsWith(typed, StringComparison.OrdinalIgnoreCase)).ToList();
        return prefixed.Count == 1 ? prefixed[0] : null;
    }
}
