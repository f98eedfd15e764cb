using System.Reflection;
using ModelMix.Ledger;

namespace ModelMix.Tests.Ledger;

/// <summary>
/// <see cref="BufferedLedger"/> settles budget reservations for the proxy through the internal
/// <see cref="ISettlingLedger"/> (issue 21): the interface is implemented explicitly, so it adds nothing to the public
/// class; the two public members it used to implement forward to it, marked obsolete for one release.
/// </summary>
public sealed class BufferedLedgerSettlingApiTests
{
    [Fact]
    public void The_settling_interface_is_implemented_explicitly_and_the_old_public_members_are_obsolete()
    {
        var map = typeof(BufferedLedger).GetInterfaceMap(typeof(ISettlingLedger));

        Assert.All(map.TargetMethods, method => Assert.True(method.IsPrivate, $"{method.Name} implements ISettlingLedger publicly"));
        Assert.NotNull(typeof(BufferedLedger).GetProperty("CanSettle")!.GetCustomAttribute<ObsoleteAttribute>());
        Assert.NotNull(typeof(BufferedLedger).GetMethod("SettleAsync")!.GetCustomAttribute<ObsoleteAttribute>());
    }
}
