using System;
using System.Collections.Concurrent;
using System.IO;
using System.Runtime.Serialization;
using System.Runtime.Serialization.Json;

namespace TvmBackupUtils.Native
{
    /// <summary>
    /// Reads and writes the JSON that crosses the engine boundary, with <see cref="DataContractJsonSerializer"/>:
    /// it is part of .NET Framework 4.5 and of netstandard2.0, so nothing extra ships into Windows PowerShell 5.1
    /// (System.Text.Json would have to be shipped, with its dependencies, and can clash with the copy PowerShell 7
    /// loads). Unknown members are ignored on reading, so the engine may add result fields freely.
    /// </summary>
    internal static class Json
    {
        private static readonly ConcurrentDictionary<Type, DataContractJsonSerializer> Serializers =
            new ConcurrentDictionary<Type, DataContractJsonSerializer>();

        private static DataContractJsonSerializer For(Type type) =>
            Serializers.GetOrAdd(type, t => new DataContractJsonSerializer(t, new DataContractJsonSerializerSettings
            {
                UseSimpleDictionaryFormat = true,
            }));

        /// <summary>UTF-8 JSON of <paramref name="value"/>.</summary>
        internal static byte[] Write<T>(T value)
        {
            using var stream = new MemoryStream();
            For(typeof(T)).WriteObject(stream, value);
            return stream.ToArray();
        }

        /// <summary>The object in UTF-8 JSON <paramref name="bytes"/>; a malformed payload is an <see cref="InvalidDataException"/>.</summary>
        internal static T Read<T>(byte[] bytes) where T : class
        {
            try
            {
                using var stream = new MemoryStream(bytes, writable: false);
                return For(typeof(T)).ReadObject(stream) as T
                    ?? throw new InvalidDataException($"The TvmBackupUtils engine sent an empty {typeof(T).Name}.");
            }
            catch (SerializationException e)
            {
                throw new InvalidDataException($"The TvmBackupUtils engine sent a {typeof(T).Name} that cannot be read: {e.Message}", e);
            }
        }
    }
}
