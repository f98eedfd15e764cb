using System.Reflection;
using System.Reflection.Emit;

namespace ModelMix.Tests.Keys;

/// <summary>
/// Reads a method's compiled IL (<see cref="MethodBody.GetILAsByteArray"/>): the methods it calls and whether it
/// loops. A property no behaviour shows — "compares in constant time" — is pinned by what the code calls, not by
/// timing it.
/// </summary>
internal sealed class MethodIl
{
    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(field => (OpCode)field.GetValue(null)!)
        .ToDictionary(code => code.Value);

    private MethodIl(List<MethodBase> calls, bool branchesBackward)
    {
        Calls = calls;
        BranchesBackward = branchesBackward;
    }

    /// <summary>Every method the body calls (<c>call</c>, <c>callvirt</c>, <c>newobj</c>, <c>ldftn</c>), in order.</summary>
    public IReadOnlyList<MethodBase> Calls { get; }

    /// <summary>Whether any branch jumps backward: a loop in the method itself.</summary>
    public bool BranchesBackward { get; }

    public static MethodIl Of(MethodInfo method)
    {
        var il = method.GetMethodBody()?.GetILAsByteArray() ?? throw new ArgumentException($"{method.Name} has no IL body.", nameof(method));
        var calls = new List<MethodBase>();
        var backward = false;
        var position = 0;
        while (position < il.Length)
        {
            var start = position;
            short value = il[position++];
            if (value == 0xFE)
            {
                value = (short)(0xFE00 | il[position++]);
            }

            var code = OpCodesByValue[value];
            switch (code.OperandType)
            {
                case OperandType.InlineNone:
                    break;
                case OperandType.ShortInlineBrTarget:
                    backward |= (sbyte)il[position] < 0 && position + 1 + (sbyte)il[position] <= start;
                    position += 1;
                    break;
                case OperandType.ShortInlineI:
                case OperandType.ShortInlineVar:
                    position += 1;
                    break;
                case OperandType.InlineVar:
                    position += 2;
                    break;
                case OperandType.InlineBrTarget:
                    var offset = BitConverter.ToInt32(il, position);
                    backward |= position + 4 + offset <= start;
                    position += 4;
                    break;
                case OperandType.InlineMethod:
                    calls.Add(method.Module.ResolveMethod(BitConverter.ToInt32(il, position), method.DeclaringType?.GetGenericArguments(), method.GetGenericArguments())!);
                    position += 4;
                    break;
                case OperandType.InlineI8:
                case OperandType.InlineR:
                    position += 8;
                    break;
                case OperandType.InlineSwitch:
                    position += 4 + (4 * BitConverter.ToInt32(il, position));
                    break;
                default: // InlineI, InlineField, InlineType, InlineTok, InlineString, InlineSig, ShortInlineR
                    position += 4;
                    break;
            }
        }

        return new MethodIl(calls, backward);
    }
}
