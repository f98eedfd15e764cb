using System.Runtime.CompilerServices;

namespace ModelMix.Threading;

/// <summary>
/// Keeps blocking work off threads that must never block. With inline socket completions
/// (<c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1</c>, the <c>modelmix serve</c> default) the code after an awaited
/// socket read runs on the runtime's socket event thread, which serves every connection registered with it: a SQLite
/// call there (synchronous under its async API, and it may wait on a file lock) would stall them all. Such stores
/// first <c>await IoThreads.LeaveAsync()</c>: on a thread-pool thread this costs nothing; on any other thread (a socket
/// event thread, a UI thread) the rest of the method runs on the thread pool instead.
/// </summary>
internal static class IoThreads
{
    /// <summary>Continues on a thread-pool thread: at once when already on one, else by queueing the continuation.</summary>
    public static ThreadPoolHop LeaveAsync() => default;

    /// <summary>The awaitable of <see cref="LeaveAsync"/>; it ignores any synchronization context on purpose.</summary>
    internal readonly struct ThreadPoolHop : ICriticalNotifyCompletion
    {
        /// <summary>Whether the caller may go on where it is: true on a thread-pool thread.</summary>
        public bool IsCompleted => Thread.CurrentThread.IsThreadPoolThread;

        public ThreadPoolHop GetAwaiter() => this;

        public void GetResult()
        {
        }

        public void OnCompleted(Action continuation) =>
            ThreadPool.QueueUserWorkItem(static action => action(), continuation, preferLocal: false);

        public void UnsafeOnCompleted(Action continuation) =>
            ThreadPool.UnsafeQueueUserWorkItem(static action => action(), continuation, preferLocal: false);
    }
}
