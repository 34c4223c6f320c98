import Foundation
import NHGDCommand

exit(NHGDTool.standard().run(Array(CommandLine.arguments.dropFirst())).rawValue)
