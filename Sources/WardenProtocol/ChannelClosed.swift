/// The peer went away or the channel was closed: what a `FrameChannel` throws when no more frames will come.
public struct ChannelClosed: Error, Sendable {
    public init() {}
}
