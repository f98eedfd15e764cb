using System.Runtime.CompilerServices;

namespace ModelMix.Threading;

/// <summary>
/// Keeps blocking work off threads that must never block. With inline socket completions
/// (<c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1</c>, the <c>modelmix serve</c> default) the code after an awaited
/// socket read runs on the runtime's socket event thread, which serves every connection registered with it: a SQLite
/// call there (synchronous under its async API, and it may wait on a file lock) would stall them all. Such stores
/// first <c>await IoThreads.LeaveAsync()</c>: on a thread-pool thread this costs nothing; on any other thread (a socket
/// event thread, a UI thread) the rest of the method runs on the thread pool instead.
/// <para>
/// The hop belongs in the method that does the blocking work, not only in a callee it awaits: when a callee hops, the
/// pool thread may finish that callee before its caller checks the returned task, and the caller then goes on in
/// place — on the thread it was meant to leave — with the blocking work (a budget reservation once waited out SQLite's
/// 10 s busy timeout on its calling thread that way; <c>IoThreadsTests</c>). After the hop, later awaits of SQLite
/// work complete on the pool, so one hop at the top of a public store method covers its body. An async iterator's body
/// after a <c>yield</c> runs on its consumer's thread.
/// </para>
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
