import WardendCLI

await WardendCommand.start()
