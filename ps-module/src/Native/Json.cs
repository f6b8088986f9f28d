using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Reflection;
using System.Runtime.Serialization;
using System.Text;

namespace TvmBackupUtils.Native
{
    /// <summary>
    /// Reads and writes the JSON that crosses the engine boundary (docs/abi.md): a small reader and writer bound by
    /// the <see cref="DataMemberAttribute"/> names of the contract types (Api/Contracts.cs, Models.cs), so the types
    /// stay the one description of the JSON on this side.
    /// Why not a library: System.Text.Json would have to ship into Windows PowerShell 5.1 with its dependencies
    /// (and can clash with the copy PowerShell 7 loads); DataContractJsonSerializer ships with .NET, but costs about
    /// 65 µs per event in a running restore (measured: a backup of 1,000 keys spent 130 ms in it), takes a JSON
    /// object cut off after a complete member for a whole one, and reads an array as an object.
    /// Reading is strict about the JSON (one complete object, nothing after it) and tolerant about content:
    /// members the type does not have are ignored, so the engine may add result fields.
    /// </summary>
    internal static class Json
    {
        private static readonly UTF8Encoding Utf8Strict = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

        private static readonly ConcurrentDictionary<Type, Member[]> Members = new ConcurrentDictionary<Type, Member[]>();

        /// <summary>UTF-8 JSON of <paramref name="value"/>, a [DataContract] object.</summary>
        internal static byte[] Write<T>(T value)
        {
            var text = new StringBuilder(256);
            WriteValue(text, value, typeof(T));
            return Utf8Strict.GetBytes(text.ToString());
        }

        /// <summary>The [DataContract] object in UTF-8 JSON <paramref name="bytes"/>; anything else is an <see cref="InvalidDataException"/>.</summary>
        internal static T Read<T>(byte[] bytes) where T : class
        {
            object? tree;
            try
            {
                var parser = new Parser(bytes);
                tree = parser.Document();
            }
            catch (FormatException e)
            {
                throw new InvalidDataException($"The TvmBackupUtils engine sent a {typeof(T).Name} that cannot be read: {e.Message}.", e);
            }
            if (!(tree is Dictionary<string, object?>))
            {
                throw new InvalidDataException($"The TvmBackupUtils engine sent a {typeof(T).Name} that cannot be read: it is not a JSON object.");
            }
            try
            {
                return (T)Bind(typeof(T), tree, "$")!;
            }
            catch (FormatException e)
            {
                throw new InvalidDataException($"The TvmBackupUtils engine sent a {typeof(T).Name} that cannot be read: {e.Message}.", e);
            }
        }

        // ---- binding a parsed tree onto the contract types ----

        private sealed class Member
        {
            internal Member(string name, Type type, Func<object, object?> get, Action<object, object?> set, bool emitDefault)
            {
                Name = name;
                Type = type;
                Get = get;
                Set = set;
                EmitDefault = emitDefault;
            }

            internal string Name { get; }
            internal Type Type { get; }
            internal Func<object, object?> Get { get; }
            internal Action<object, object?> Set { get; }
            internal bool EmitDefault { get; }
        }

        private static Member[] MembersOf(Type type) => Members.GetOrAdd(type, t =>
        {
            if (t.GetCustomAttribute<DataContractAttribute>() == null)
            {
                throw new InvalidOperationException($"{t.FullName} is not a [DataContract] type.");
            }
            var members = new List<Member>();
            const BindingFlags All = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
            foreach (PropertyInfo property in t.GetProperties(All))
            {
                DataMemberAttribute? member = property.GetCustomAttribute<DataMemberAttribute>();
                if (member != null)
                {
                    members.Add(new Member(member.Name ?? property.Name, property.PropertyType,
                        o => property.GetValue(o), (o, v) => property.SetValue(o, v), member.EmitDefaultValue));
                }
            }
            foreach (FieldInfo field in t.GetFields(All))
            {
                DataMemberAttribute? member = field.GetCustomAttribute<DataMemberAttribute>();
                if (member != null)
                {
                    members.Add(new Member(member.Name ?? field.Name, field.FieldType,
                        o => field.GetValue(o), (o, v) => field.SetValue(o, v), member.EmitDefaultValue));
                }
            }
            return members.ToArray();
        });

        private static object? Bind(Type type, object? value, string path)
        {
            Type? nullable = Nullable.GetUnderlyingType(type);
            if (value == null)
            {
                if (type.IsValueType && nullable == null)
                {
                    throw new FormatException($"{path} is null, where a {type.Name} belongs");
                }
                return null;
            }
            Type target = nullable ?? type;
            if (target == typeof(string))
            {
                return value as string ?? throw Wrong(path, "a string", value);
            }
            if (target == typeof(bool))
            {
                return value is bool b ? b : throw Wrong(path, "true or false", value);
            }
            if (target == typeof(int) || target == typeof(uint) || target == typeof(long) || target == typeof(ulong))
            {
                if (!(value is decimal number) || decimal.Truncate(number) != number)
                {
                    throw Wrong(path, "a whole number", value);
                }
                try
                {
                    return Convert.ChangeType(number, target, CultureInfo.InvariantCulture);
                }
                catch (OverflowException)
                {
                    throw new FormatException($"{path} is {number}, out of range for a {target.Name}");
                }
            }
            if (target.IsArray)
            {
                if (!(value is List<object?> items))
                {
                    throw Wrong(path, "an array", value);
                }
                Type element = target.GetElementType()!;
                Array array = Array.CreateInstance(element, items.Count);
                for (int i = 0; i < items.Count; i++)
                {
                    array.SetValue(Bind(element, items[i], $"{path}[{i}]"), i);
                }
                return array;
            }
            if (!(value is Dictionary<string, object?> members))
            {
                throw Wrong(path, "an object", value);
            }
            object instance = Activator.CreateInstance(target, nonPublic: true)!;
            foreach (Member member in MembersOf(target))
            {
                if (members.TryGetValue(member.Name, out object? item))
                {
                    member.Set(instance, Bind(member.Type, item, path + "." + member.Name));
                }
            }
            return instance;
        }

        private static FormatException Wrong(string path, string expected, object value)
        {
            string found = value switch
            {
                string _ => "a string",
                bool _ => "true or false",
                decimal _ => "a number",
                List<object?> _ => "an array",
                _ => "an object",
            };
            return new FormatException($"{path} is {found}, where {expected} belongs");
        }

        // ---- writing ----

        private static void WriteValue(StringBuilder text, object? value, Type type)
        {
            switch (value)
            {
                case null:
                    text.Append("null");
                    return;
                case string s:
                    WriteString(text, s);
                    return;
                case bool b:
                    text.Append(b ? "true" : "false");
                    return;
                case int _:
                case uint _:
                case long _:
                case ulong _:
                    text.Append(Convert.ToString(value, CultureInfo.InvariantCulture));
                    return;
                case Array array:
                    text.Append('[');
                    Type element = type.IsArray ? type.GetElementType()! : typeof(object);
                    for (int i = 0; i < array.Length; i++)
                    {
                        if (i > 0)
                        {
                            text.Append(',');
                        }
                        WriteValue(text, array.GetValue(i), element);
                    }
                    text.Append(']');
                    return;
            }
            text.Append('{');
            bool first = true;
            foreach (Member member in MembersOf(value.GetType()))
            {
                object? item = member.Get(value);
                // A nullable member left out when null only: its 0 or false was given, and is written.
                if (!member.EmitDefault && (Nullable.GetUnderlyingType(member.Type) != null ? item == null : IsDefault(item)))
                {
                    continue;
                }
                if (!first)
                {
                    text.Append(',');
                }
                first = false;
                WriteString(text, member.Name);
                text.Append(':');
                WriteValue(text, item, member.Type);
            }
            text.Append('}');
        }

        private static bool IsDefault(object? value) => value switch
        {
            null => true,
            bool b => !b,
            int i => i == 0,
            uint u => u == 0,
            long l => l == 0,
            ulong ul => ul == 0,
            _ => false,
        };

        private static void WriteString(StringBuilder text, string value)
        {
            text.Append('"');
            foreach (char c in value)
            {
                switch (c)
                {
                    case '"':
                        text.Append("\\\"");
                        break;
                    case '\\':
                        text.Append("\\\\");
                        break;
                    case '\n':
                        text.Append("\\n");
                        break;
                    case '\r':
                        text.Append("\\r");
                        break;
                    case '\t':
                        text.Append("\\t");
                        break;
                    default:
                        if (c < ' ')
                        {
                            text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        }
                        else
                        {
                            text.Append(c);
                        }
                        break;
                }
            }
            text.Append('"');
        }

        // ---- parsing: RFC 8259 JSON into dictionaries, lists, strings, decimals, booleans and nulls ----

        private sealed class Parser
        {
            private const int MaxDepth = 64;
            private readonly byte[] _bytes;
            private int _at;
            private int _depth;

            internal Parser(byte[] bytes)
            {
                _bytes = bytes;
            }

            internal object? Document()
            {
                object? value = Value();
                SkipSpace();
                if (_at != _bytes.Length)
                {
                    throw Fail("there is more after the JSON value");
                }
                return value;
            }

            private FormatException Fail(string why) => new FormatException($"{why} (at byte {_at.ToString(CultureInfo.InvariantCulture)})");

            private void SkipSpace()
            {
                while (_at < _bytes.Length && (_bytes[_at] == ' ' || _bytes[_at] == '\t' || _bytes[_at] == '\r' || _bytes[_at] == '\n'))
                {
                    _at++;
                }
            }

            private object? Value()
            {
                SkipSpace();
                if (_at >= _bytes.Length)
                {
                    throw Fail("it ends where a value belongs");
                }
                switch (_bytes[_at])
                {
                    case (byte)'{':
                        return Object();
                    case (byte)'[':
                        return Array();
                    case (byte)'"':
                        return String();
                    case (byte)'t':
                        Word("true");
                        return true;
                    case (byte)'f':
                        Word("false");
                        return false;
                    case (byte)'n':
                        Word("null");
                        return null;
                    default:
                        return Number();
                }
            }

            private void Enter()
            {
                if (++_depth > MaxDepth)
                {
                    throw Fail("it is nested too deeply");
                }
                _at++;
            }

            private Dictionary<string, object?> Object()
            {
                Enter();
                var members = new Dictionary<string, object?>(StringComparer.Ordinal);
                SkipSpace();
                if (_at < _bytes.Length && _bytes[_at] == '}')
                {
                    _at++;
                    _depth--;
                    return members;
                }
                while (true)
                {
                    SkipSpace();
                    if (_at >= _bytes.Length || _bytes[_at] != '"')
                    {
                        throw Fail("a member name is missing");
                    }
                    string name = String();
                    SkipSpace();
                    Expect((byte)':');
                    members[name] = Value();
                    SkipSpace();
                    if (_at < _bytes.Length && _bytes[_at] == ',')
                    {
                        _at++;
                        continue;
                    }
                    Expect((byte)'}');
                    _depth--;
                    return members;
                }
            }

            private List<object?> Array()
            {
                Enter();
                var items = new List<object?>();
                SkipSpace();
                if (_at < _bytes.Length && _bytes[_at] == ']')
                {
                    _at++;
                    _depth--;
                    return items;
                }
                while (true)
                {
                    items.Add(Value());
                    SkipSpace();
                    if (_at < _bytes.Length && _bytes[_at] == ',')
                    {
                        _at++;
                        continue;
                    }
                    Expect((byte)']');
                    _depth--;
                    return items;
                }
            }

            private void Expect(byte c)
            {
                if (_at >= _bytes.Length || _bytes[_at] != c)
                {
                    throw Fail(_at >= _bytes.Length ? $"it ends where '{(char)c}' belongs" : $"'{(char)c}' is missing");
                }
                _at++;
            }

            private void Word(string word)
            {
                for (int i = 0; i < word.Length; i++, _at++)
                {
                    if (_at >= _bytes.Length || _bytes[_at] != word[i])
                    {
                        throw Fail("a value is not JSON");
                    }
                }
            }

            private string String()
            {
                _at++; // the opening quote
                var text = new StringBuilder();
                int run = _at;
                while (true)
                {
                    if (_at >= _bytes.Length)
                    {
                        throw Fail("it ends inside a string");
                    }
                    byte c = _bytes[_at];
                    if (c == '"' || c == '\\')
                    {
                        Flush(text, run);
                        _at++;
                        if (c == '"')
                        {
                            return text.ToString();
                        }
                        text.Append(Escape());
                        run = _at;
                    }
                    else if (c < 0x20)
                    {
                        throw Fail("a string holds a control character");
                    }
                    else
                    {
                        _at++;
                    }
                }
            }

            private void Flush(StringBuilder text, int run)
            {
                if (_at > run)
                {
                    try
                    {
                        text.Append(Utf8Strict.GetString(_bytes, run, _at - run));
                    }
                    catch (DecoderFallbackException)
                    {
                        throw Fail("a string is not UTF-8");
                    }
                }
            }

            private char Escape()
            {
                if (_at >= _bytes.Length)
                {
                    throw Fail("it ends inside a string");
                }
                byte c = _bytes[_at++];
                switch (c)
                {
                    case (byte)'"': return '"';
                    case (byte)'\\': return '\\';
                    case (byte)'/': return '/';
                    case (byte)'b': return '\b';
                    case (byte)'f': return '\f';
                    case (byte)'n': return '\n';
                    case (byte)'r': return '\r';
                    case (byte)'t': return '\t';
                    case (byte)'u':
                        if (_at + 4 > _bytes.Length)
                        {
                            throw Fail("it ends inside a \\u escape");
                        }
                        string hex = Encoding.ASCII.GetString(_bytes, _at, 4);
                        if (!int.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int code))
                        {
                            throw Fail("a \\u escape is not four hex digits");
                        }
                        _at += 4;
                        return (char)code; // a surrogate pair is two escapes, two chars: UTF-16 as .NET holds it
                    default:
                        throw Fail("a string has an unknown escape");
                }
            }

            private decimal Number()
            {
                int start = _at;
                while (_at < _bytes.Length && (_bytes[_at] == '-' || _bytes[_at] == '+' || _bytes[_at] == '.' || _bytes[_at] == 'e' || _bytes[_at] == 'E'
                                               || (_bytes[_at] >= '0' && _bytes[_at] <= '9')))
                {
                    _at++;
                }
                string token = Encoding.ASCII.GetString(_bytes, start, _at - start);
                if (token.Length == 0 || token[0] == '+' ||
                    !decimal.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out decimal number))
                {
                    _at = start;
                    throw Fail("a value is not JSON");
                }
                return number;
            }
        }
    }
}
